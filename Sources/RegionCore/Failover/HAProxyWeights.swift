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

    /// Runtime API commands for the plan, one `set weight` per server, joined with `;`
    /// so they go in one connection.
    public static func commands(for plan: TrafficPlan, backend: String, servers: [HAProxyServer]) -> String {
        self.weights(for: plan, servers: servers).map { "set weight \(backend)/\($0.server) \($0.weight)" }.joined(separator: "; ")
    }
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

/// `[haproxy]`: apply every committed plan to an HAProxy backend through its runtime API.
public struct HAProxySettings: Sendable, Equatable {
    /// The runtime API socket (`stats socket ... level admin` in haproxy.cfg).
    public var socket: String
    /// The backend whose servers are the regions.
    public var backend: String
    /// How long one exchange with HAProxy may take.
    public var timeout: Duration
    /// How often the committed plan is sent again, for an HAProxy that restarted or
    /// reloaded and so went back to the weights in its own config.
    public var reapplyInterval: Duration

    public init(socket: String, backend: String, timeout: Duration = .seconds(2), reapplyInterval: Duration = .seconds(30)) {
        self.socket = socket
        self.backend = backend
        self.timeout = timeout
        self.reapplyInterval = reapplyInterval
    }
}
