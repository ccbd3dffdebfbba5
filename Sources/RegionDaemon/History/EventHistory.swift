import Foundation
import RegionCore

/// Where events and decisions are recorded: the state database.
///
/// ``StateStore`` (SQLite) is the only real one. Tests implement it to hold a write open
/// or fail it at a moment they choose, faults a real database cannot be made to produce
/// on cue. Events arrive numbered (the ``EventBus`` gives ids), so the history keeps the
/// one order every other sink sees.
public protocol EventHistory: Sendable {
    /// Where the history lives, for messages.
    var path: String { get }
    /// What the last run left: the engine state, the highest event id, the newest etcd
    /// revision recorded.
    func restore() async throws -> StoredState
    /// Appends numbered events (reports: status changes, reloads, plans applied).
    func append(_ events: [Event], retention: HistoryRetention, now: Date) async throws
    /// Commits a decision: its state and its numbered events in one transaction. A
    /// decision with an etcd revision is recorded once per instance: false when that
    /// revision is recorded already (nothing is written).
    func commit(_ decision: DecisionRecord, retention: HistoryRetention, now: Date) async throws -> Bool
    /// Events with an id above `id`, oldest first, at most `limit` (a resumed `/events`).
    func events(after id: UInt64, limit: Int) async throws -> [Event]
}

/// What the state database holds from the last run.
public struct StoredState: Sendable, Equatable {
    public var engine: EngineState?
    /// The highest event id recorded (0: none).
    public var lastEventID: UInt64
    /// The newest etcd revision recorded (0: none; always 0 without `[cluster]`).
    public var lastRevision: Int64

    public init(engine: EngineState? = nil, lastEventID: UInt64 = 0, lastRevision: Int64 = 0) {
        self.engine = engine
        self.lastEventID = lastEventID
        self.lastRevision = lastRevision
    }
}

/// How much history is kept (`history_max_age`, `history_max_events`): a bound on every
/// write, not a cleanup that runs now and then.
public struct HistoryRetention: Sendable, Equatable {
    public var maxAge: Duration
    public var maxEvents: Int

    public init(maxAge: Duration, maxEvents: Int) {
        self.maxAge = maxAge
        self.maxEvents = maxEvents
    }

    public init(_ settings: FailoverSettings) {
        self.init(maxAge: settings.historyMaxAge, maxEvents: settings.historyMaxEvents)
    }
}
