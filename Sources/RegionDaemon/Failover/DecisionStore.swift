import Foundation
import RegionCore

/// Where the failover controller commits its decisions before it acts on them.
///
/// ``StateStore`` (SQLite) is the only real one. Tests implement it to hold a commit
/// open or fail it at a moment they choose, faults a real database cannot be made to
/// produce on cue.
public protocol DecisionStore: Sendable {
    /// Where the state lives, for messages.
    var path: String { get }
    /// The engine state saved by the last commit, if any.
    func loadEngineState() async throws -> EngineState?
    /// Commits the engine state and its events in one transaction; returns the events numbered.
    func commit(state: EngineState?, events: [Event], now: Date) async throws -> [Event]
    /// Deletes events older than `maxAge` and all but the newest `maxEvents`.
    @discardableResult
    func prune(maxAge: Duration, maxEvents: Int, now: Date) async throws -> Int
}
