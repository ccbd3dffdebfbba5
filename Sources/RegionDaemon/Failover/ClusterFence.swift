import Foundation
import RegionCore

/// Cluster mode: where the leader commits a decision before anything acts on it.
/// ``ClusterMember`` is the real one (an etcd transaction fenced by the election key).
public protocol ClusterFence: Sendable {
    /// This instance's observer name, recorded with each decision it commits.
    var observerName: String { get }
    /// Commits the state and its events for the fleet; returns the etcd revision of the
    /// write. Throws when this instance may not decide (not the leader, lease about to
    /// lapse, fence refused, etcd unreachable): the decision was not made.
    ///
    /// `answering`: a follower's forwarded command this decision answers; the answer and
    /// the request's removal go in the same transaction, which requires the request still there.
    func commit(state: EngineState, events: [Event], answering: ForwardedKey?, now: Date) async throws -> Int64
}
