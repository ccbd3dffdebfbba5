import FoundationEssentials

/// `[cluster]`: several regiond instances that agree through etcd. Absent, regiond
/// runs alone on its embedded SQLite, as it always has.
public struct ClusterSettings: Sendable, Equatable {
    /// How many live observers must see a region failing before it counts as failing.
    public enum Quorum: Sendable, Equatable, CustomStringConvertible {
        /// More than half of the observers that are live for the region.
        case majority
        /// A fixed number of observers; fewer live than that and no region can fail over.
        case count(Int)

        /// The number of observers that must agree when `live` of them are present.
        public func required(live: Int) -> Int {
            switch self {
            case .majority: live / 2 + 1
            case .count(let count): count
            }
        }

        public var description: String {
            switch self {
            case .majority: "majority"
            case .count(let count): "\(count)"
            }
        }
    }

    /// Where the `[hook]` command runs: on the leader only, or on every instance.
    public enum HookPlacement: String, Sendable, Equatable, CaseIterable {
        case leader
        case every
    }

    /// TLS towards etcd: a CA to trust and an optional client certificate.
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?

        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    /// etcd client URLs (`http://host:2379` or `https://...`), tried in order.
    public var etcd: [String]
    /// This observer's id, unique in the fleet (default: the host name).
    public var name: String
    /// Every key regiond writes starts with this.
    public var prefix: String = "/regiond"
    /// The TTL of this instance's lease: observations and leadership die with it.
    public var leaseTTL: Duration = .seconds(10)
    /// How often the lease is renewed and the observer's heartbeat written.
    public var renewInterval: Duration = .seconds(2)
    /// How long one etcd request may take before it counts as failed.
    public var requestTimeout: Duration = .seconds(2)
    /// An observer not heard from for this long counts as absent, not as healthy.
    public var staleAfter: Duration = .seconds(6)
    public var quorum: Quorum = .majority
    public var hook: HookPlacement = .leader
    public var tls: TLS?

    public init(etcd: [String], name: String) {
        self.etcd = etcd
        self.name = name
    }

    /// Patroni's rule (`loop_wait + 2 × retry_timeout ≤ ttl`) in regiond's terms: a
    /// renewal that fails once can be retried and still land before the lease expires.
    /// Returns why the timing is unsafe, or nil.
    public var timingProblem: String? {
        let needed = self.renewInterval + self.requestTimeout * 2
        if needed > self.leaseTTL {
            return "renew_interval + 2 × request_timeout (\(formatDuration(needed))) must not exceed lease_ttl (\(formatDuration(self.leaseTTL))): a leader that misses one renewal would lose its lease before it can retry"
        }
        if self.staleAfter <= self.renewInterval {
            return "stale_after (\(formatDuration(self.staleAfter))) must be longer than renew_interval (\(formatDuration(self.renewInterval))), or every observer goes stale between two heartbeats"
        }
        return nil
    }

    /// The etcd keys of this cluster.
    public var keys: ClusterKeys { ClusterKeys(prefix: self.prefix) }
}

/// The key layout under `prefix` (docs/cluster.md).
public struct ClusterKeys: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
    }

    /// Everything of this cluster (for the watch and the start-up read).
    public var all: String { self.prefix + "/" }
    /// The election: etcd creates `<prefix>/leader/<lease id>` per candidate.
    public var election: String { self.prefix + "/leader" }
    /// The committed failover state and the events of the decision that wrote it.
    public var state: String { self.prefix + "/state" }
    /// An observer's heartbeat (bound to its lease).
    public func observer(_ name: String) -> String { self.prefix + "/observers/" + name }
    /// An observer's view of one region (bound to its lease).
    public func observation(region: String, observer: String) -> String { self.prefix + "/observations/" + region + "/" + observer }
    /// The decision log: one key per committed decision, by sequence (zero-padded, so the
    /// keys sort in order).
    public var decisions: String { self.prefix + "/decisions/" }
    public func decision(_ sequence: Int64) -> String { self.decisions + Self.padded(sequence) }
    /// How many decisions the log keeps: an instance away for longer records the last ones.
    public static let decisionLogLength: Int64 = 1000

    static func padded(_ sequence: Int64) -> String {
        let digits = String(max(0, sequence))
        return String(repeating: "0", count: max(0, 19 - digits.count)) + digits
    }

    /// What a key of this cluster is.
    public enum Kind: Sendable, Equatable {
        case state
        case leader
        case observer(String)
        case observation(region: String, observer: String)
        /// A decision log entry, with its sequence.
        case decision(Int64)
        /// A command forwarded by a follower, and the leader's answer to it.
        case request(String)
        case answer(String)
        case other
    }

    public func kind(of key: String) -> Kind {
        guard key.hasPrefix(self.all) else { return .other }
        let rest = key.dropFirst(self.all.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch (rest.first, rest.count) {
        case ("state", 1): return .state
        case ("leader", 2): return .leader
        case ("observers", 2) where !rest[1].isEmpty: return .observer(rest[1])
        case ("observations", 3) where !rest[1].isEmpty && !rest[2].isEmpty: return .observation(region: rest[1], observer: rest[2])
        case ("requests", 2) where !rest[1].isEmpty: return .request(rest[1])
        case ("answers", 2) where !rest[1].isEmpty: return .answer(rest[1])
        case ("decisions", 2) where rest[1].utf8.count == 19 && rest[1].utf8.allSatisfy({ (48...57).contains($0) }):
            return Int64(rest[1]).map { .decision($0) } ?? .other
        default: return .other
        }
    }
}
