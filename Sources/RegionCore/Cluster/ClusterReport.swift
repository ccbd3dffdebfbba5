import FoundationEssentials

/// What one instance of a cluster knows, for `regionctl status`, `STATUS=` and the
/// status page: its role, the leader, the observers and how fresh each is, and the
/// fleet's judgement of every region.
public struct ClusterReport: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable {
        case leader
        case follower
        /// etcd does not answer: no decision is made, the last committed plan is kept.
        case noQuorum = "no quorum"
    }

    public struct ObserverBrief: Sendable, Codable, Equatable {
        public var name: String
        /// Seconds since this instance last heard the observer's heartbeat.
        public var age: Double
        /// Counted by the quorum rule (fresh and evaluating on time).
        public var live: Bool
        public var evaluating: Bool

        public init(name: String, age: Double, live: Bool, evaluating: Bool) {
            self.name = name
            self.age = age
            self.live = live
            self.evaluating = evaluating
        }
    }

    public var name: String
    public var role: Role
    /// The observer that holds the election, when known.
    public var leader: String?
    public var etcdReachable: Bool
    /// Why etcd is unreachable, while it is.
    public var etcdError: String?
    public var observers: [ObserverBrief]
    /// The fleet's view of each region this instance monitors.
    public var fleet: [String: FleetRegion]
    /// The etcd revision of the committed state this instance applies.
    public var committedRevision: Int64?
    public var quorum: String

    public init(name: String, role: Role, leader: String?, etcdReachable: Bool, observers: [ObserverBrief], fleet: [String: FleetRegion], committedRevision: Int64?, quorum: String) {
        self.name = name
        self.role = role
        self.leader = leader
        self.etcdReachable = etcdReachable
        self.observers = observers
        self.fleet = fleet
        self.committedRevision = committedRevision
        self.quorum = quorum
    }

    /// The front of `STATUS=`: `CLUSTER leader (3 observers) | ` or an alarm.
    public var statusPrefix: String {
        let live = self.observers.filter(\.live).count
        switch self.role {
        case .noQuorum: return "ETCD UNREACHABLE, no decisions, plan kept | "
        case .leader: return "cluster leader, \(live) of \(self.observers.count) observers live | "
        case .follower: return "cluster follower of \(self.leader ?? "no leader yet"), \(live) of \(self.observers.count) observers live | "
        }
    }
}
