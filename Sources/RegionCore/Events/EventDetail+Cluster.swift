import FoundationEssentials

// What cluster mode's events carry (docs/cluster.md).

/// An observer, and why something happened to it.
public struct ObserverNote: EventDetail {
    public var observer: String
    /// leadership_lost: why; etcd_unreachable: etcd's error.
    public var reason: String?

    public init(observer: String, reason: String? = nil) {
        self.observer = observer
        self.reason = reason
    }

    public var fields: [(String, String)] { [("observer", self.observer)] + (self.reason.map { [("reason", $0)] } ?? []) }
}

/// etcd does not answer (or answers again).
public struct EtcdOutage: EventDetail {
    public var observer: String
    public var error: String

    public init(observer: String, error: String) {
        self.observer = observer
        self.error = error
    }

    public var fields: [(String, String)] { [("observer", self.observer), ("error", self.error)] }
}

/// This instance won the election.
public struct Leadership: EventDetail {
    public var observer: String
    /// The etcd revision of the committed state it resumed from (0: none yet).
    public var revision: Int64
    public var prefix: String

    public init(observer: String, revision: Int64, prefix: String) {
        self.observer = observer
        self.revision = revision
        self.prefix = prefix
    }

    public var fields: [(String, String)] { [("observer", self.observer), ("revision", "\(self.revision)"), ("prefix", self.prefix)] }
}

/// The quorum's view of a region changed: its status, or who sees it failing.
public struct FleetJudgement: EventDetail {
    public var status: RegionStatus
    /// nil: the first judgement since this instance started.
    public var previousStatus: RegionStatus?
    /// Observers whose view counted.
    public var observers: [String]
    public var failing: [String]
    /// How many must agree.
    public var required: Int

    public init(status: RegionStatus, previousStatus: RegionStatus?, observers: [String], failing: [String], required: Int) {
        self.status = status
        self.previousStatus = previousStatus
        self.observers = observers
        self.failing = failing
        self.required = required
    }

    public var fields: [(String, String)] {
        [
            ("status", self.status.rawValue), ("previous_status", self.previousStatus?.rawValue ?? "none"), ("observers", FieldText.list(self.observers)),
            ("failing", FieldText.list(self.failing)), ("required", "\(self.required)"),
        ]
    }
}
