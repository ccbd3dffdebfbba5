import FoundationEssentials

/// How a region's endpoints combine into its health (issue 26): `require` on the region,
/// `critical` on an endpoint.
///
/// Without either, every probe of every endpoint is pooled into one window and the
/// thresholds judge the pool (the default). `require` makes the count of endpoints whose
/// latest probe passed decide when the region is unhealthy, in place of the pool's
/// error-rate rule: `all`, `any`, or at least N. A `critical` endpoint (a database behind
/// the web tier) makes the region unhealthy whenever its latest probe failed, whatever
/// the others say; `require` counts only the endpoints that are not critical. Degraded
/// (error rate, latency, capacity) and the triggers still look at the whole pool, and the
/// status evaluator's `fall` applies to the region as always.
///
/// Pure: it is given the window's metrics.
public struct EndpointRequirement: Sendable, Equatable {
    public enum Require: Sendable, Equatable, CustomStringConvertible {
        /// The default: the pool's thresholds alone.
        case pooled
        case all
        case any
        case atLeast(Int)

        public var description: String {
            switch self {
            case .pooled: "pooled"
            case .all: "all"
            case .any: "any"
            case .atLeast(let n): "\(n)"
            }
        }
    }

    public var require: Require
    /// Endpoints whose failure alone makes the region unhealthy.
    public var critical: Set<String>
    /// Every configured endpoint, in the order of the file.
    public var endpoints: [String]

    public init(require: Require = .pooled, critical: Set<String> = [], endpoints: [String] = []) {
        self.require = require
        self.critical = critical
        self.endpoints = endpoints
    }

    /// Neither `require` nor a critical endpoint: the pool alone decides.
    public var isPooled: Bool { self.require == .pooled && self.critical.isEmpty }

    /// The endpoints `require` counts: those that are not critical.
    public var counted: [String] { self.endpoints.filter { !self.critical.contains($0) } }

    /// How many of the counted endpoints must pass; nil when pooled.
    public var needed: Int? {
        switch self.require {
        case .pooled: nil
        case .all: self.counted.count
        case .any: min(1, self.counted.count)
        case .atLeast(let n): min(n, self.counted.count)
        }
    }

    /// Why the region is unhealthy by its endpoints, naming them; empty when they allow it
    /// to be healthy. An endpoint with no result yet neither passes nor fails: the region
    /// is judged only once the ones that have answered settle it.
    public func unhealthyReasons(_ m: RegionMetrics) -> [String] {
        let failing = Dictionary((m.failingEndpoints ?? []).map { ($0.name, $0.failure) }, uniquingKeysWith: { a, _ in a })
        var reasons: [String] = []
        for name in self.endpoints where self.critical.contains(name) {
            if let failure = failing[name] { reasons.append("critical endpoint \(name) is failing (\(failure.map(\.rawValue) ?? "failed"))") }
        }
        guard let needed = self.needed, needed > 0 else { return reasons }
        let counted = self.counted
        let down = counted.filter { failing[$0] != nil }
        let passing = (m.passingEndpoints ?? []).filter { counted.contains($0) }.count
        let unanswered = counted.count - passing - down.count
        if passing < needed, passing + unanswered < needed {
            let list = down.map { "\($0) (\(failing[$0]!.map(\.rawValue) ?? "failed"))" }.joined(separator: ", ")
            reasons.append("\(passing) of \(counted.count) endpoints passing, \(needed) required (require = \(self.require)); failing: \(list)")
        }
        return reasons
    }
}

extension EndpointRequirement {
    /// `simulate`: the status these endpoints being down calls for, every other one
    /// passing. Only the endpoint rule: unhealthy or healthy (what the pool's error rate
    /// would add is not simulated).
    public func simulatedStatus(down: Set<String>) -> RegionStatus {
        var m = RegionMetrics.empty(windowSeconds: 0)
        m.passingEndpoints = self.endpoints.filter { !down.contains($0) }
        m.failingEndpoints = self.endpoints.filter { down.contains($0) }.map { FailingEndpoint(name: $0, failure: nil) }
        return self.unhealthyReasons(m).isEmpty ? .healthy : .unhealthy
    }
}

/// An endpoint whose latest probe failed, and how.
public struct FailingEndpoint: Sendable, Equatable, Codable {
    public var name: String
    public var failure: ProbeFailure?

    public init(name: String, failure: ProbeFailure?) {
        self.name = name
        self.failure = failure
    }
}
