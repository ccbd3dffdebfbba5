/// How a traffic plan becomes HAProxy server weights.
///
/// Each region is one server of one HAProxy backend. HAProxy weights are relative
/// integers from 0 to 256, so a region's share of the plan is scaled to 256 and
/// rounded (steps of about 0.4%). A region with any traffic gets at least 1, so
/// rounding never silently drains it; a region with none gets 0, which HAProxy
/// treats as "no new traffic" (established connections finish).
public enum HAProxyWeights {
    public static let maximum = 256

    /// The HAProxy weight of every region, in `servers` order.
    public static func weights(for plan: TrafficPlan, servers: [HAProxyServer]) -> [(server: String, weight: Int)] {
        servers.map { server in
            let weight = plan.weight(server.region)
            guard weight > 0, plan.total > 0 else { return (server.server, 0) }
            // Clamped before the conversion: a plan's weight never exceeds its total, but
            // `Int(_:)` of a Double that does not fit would trap rather than report.
            let scaled = min(Double(Self.maximum), max(1, (Double(weight) / Double(plan.total) * Double(Self.maximum)).rounded()))
            return (server.server, Int(scaled))
        }
    }

    /// Runtime API commands for the plan, joined with `;` so they go in one connection:
    /// one `set weight` per server and, with the `drain` style, `set server ... state
    /// drain` for servers whose share is 0 (`ready` for the others).
    public static func commands(for plan: TrafficPlan, backend: String, servers: [HAProxyServer], zeroShare: ZeroShare = .weight) -> String {
        self.weights(for: plan, servers: servers).flatMap { server, weight -> [String] in
            var commands = ["set weight \(backend)/\(server) \(weight)"]
            if zeroShare == .drain { commands.append("set server \(backend)/\(server) state \(weight == 0 ? "drain" : "ready")") }
            return commands
        }.joined(separator: "; ")
    }
}

/// What HAProxy is told about a server whose region has no share.
public enum ZeroShare: String, Sendable, Equatable, CaseIterable {
    /// Weight 0 only: the balancing algorithm sends it no new requests; requests bound to
    /// it by persistence (a stick table, a cookie) still go to it; open connections finish.
    case weight
    /// Weight 0 and `state drain`: no new connections either way except persistent ones,
    /// and the server shows as DRAIN in HAProxy's stats. regiond sets `state ready` again
    /// when the region gets traffic, so it owns these servers' admin state.
    case drain
}

/// A region and the HAProxy server that carries its traffic.
public struct HAProxyServer: Sendable, Equatable {
    public var region: String
    public var server: String

    public init(region: String, server: String) {
        self.region = region
        self.server = server
    }
}
