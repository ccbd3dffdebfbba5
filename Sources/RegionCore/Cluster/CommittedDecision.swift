import FoundationEssentials

/// What the leader writes to `<prefix>/state` in one fenced transaction: the whole
/// engine state (plan, phases, every deadline) and the events of the decision that
/// produced it. Followers apply the state and record the events; a new leader resumes
/// from the state, so a deadline set under one leader holds under the next.
public struct CommittedDecision: Sendable, Codable, Equatable {
    public var state: EngineState
    public var events: [Event]
    /// The observer that committed it.
    public var leader: String
    /// The etcd revision of the write: one id space for decisions across leaders.
    /// Not stored in the value (etcd gives it); set on reading.
    public var revision: Int64 = 0

    public init(state: EngineState, events: [Event], leader: String, revision: Int64 = 0) {
        self.state = state
        self.events = events
        self.leader = leader
        self.revision = revision
    }

    enum CodingKeys: String, CodingKey {
        case state, events, leader
    }

    /// The events as every instance records them: stamped with the revision and the leader.
    public var stampedEvents: [Event] {
        self.events.map { event in
            var event = event
            event.fields["revision"] = "\(self.revision)"
            event.fields["leader"] = self.leader
            return event
        }
    }
}
