import FoundationEssentials

/// A decision the leader committed to etcd, in one fenced transaction:
/// - `<prefix>/state`: the whole engine state after it (plan, phases, every deadline) and
///   its events. A new leader resumes from it, so a deadline set under one leader holds
///   under the next.
/// - `<prefix>/decisions/<sequence>`: its events alone, kept for the last
///   ``ClusterKeys/decisionLogLength`` decisions, so an instance that was away records
///   every decision it missed, in order, not only the latest.
///
/// Followers record the events and apply the latest state. The etcd revision of the
/// transaction is the decision's id across the fleet; each instance records a revision
/// once, whatever restarts.
public struct CommittedDecision: Sendable, Codable, Equatable {
    /// The engine state after the decision; nil in a log entry.
    public var state: EngineState?
    public var events: [Event]
    /// The observer that committed it.
    public var leader: String
    /// Its place in the decision log (1, 2, ...); 0 when written by a regiond before the log.
    public var sequence: Int64
    /// The etcd revision of the write. Not stored in the value (etcd gives it); set on reading.
    public var revision: Int64

    public init(state: EngineState?, events: [Event], leader: String, sequence: Int64 = 0, revision: Int64 = 0) {
        self.state = state
        self.events = events
        self.leader = leader
        self.sequence = sequence
        self.revision = revision
    }

    enum CodingKeys: String, CodingKey {
        case state, events, leader, sequence
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.state = try container.decodeIfPresent(EngineState.self, forKey: .state)
        self.events = try container.decode([Event].self, forKey: .events)
        self.leader = try container.decode(String.self, forKey: .leader)
        self.sequence = try container.decodeIfPresent(Int64.self, forKey: .sequence) ?? 0
        self.revision = 0
    }

    /// The events as every instance records them: stamped with the revision and the leader.
    public var stampedEvents: [Event] {
        self.events.map { event in
            var event = event
            var stamp = event.decision ?? DecisionStamp()
            stamp.revision = self.revision
            stamp.leader = self.leader
            event.decision = stamp
            return event
        }
    }

    /// The same decision as a log entry (no state).
    public var logEntry: CommittedDecision {
        var entry = self
        entry.state = nil
        return entry
    }
}
