import FoundationEssentials

/// Cluster mode: an operator's command given to a follower, on its way to the leader
/// through etcd (docs/cluster.md, "Commands on any instance").
///
/// The follower checks the caller's permission, then writes the request under
/// `<prefix>/requests/<id>`, bound to its lease. The leader decides it as its own and
/// commits the decision, the answer (`<prefix>/answers/<id>`) and the request's removal in
/// one transaction fenced by its election key: a command is answered exactly when it was
/// decided, and a new leader never decides it twice. A refusal is answered the same way.
/// A follower that hears nothing in time withdraws the request in a transaction that
/// succeeds only while no answer exists, so "not done" is never a guess.
public struct ForwardedCommand: Sendable, Codable, Equatable {
    /// The request as the client sent it (the leader reads the command from it).
    public var request: ControlRequest
    /// The caller, checked on the follower.
    public var uid: UInt32
    /// The observer the operator used.
    public var via: String
    /// Its lease: the leader binds the answer to it, so an answer nobody waits for goes
    /// with the follower.
    public var lease: Int64

    public init(request: ControlRequest, uid: UInt32, via: String, lease: Int64) {
        self.request = request
        self.uid = uid
        self.via = via
        self.lease = lease
    }
}

/// The leader's answer to a ``ForwardedCommand``. The revision of the decision is the
/// answer key's own modification revision (written in the same transaction).
public struct ForwardedAnswer: Sendable, Codable, Equatable {
    /// nil: done; otherwise why not.
    public var error: ControlError?
    /// The leader that answered.
    public var leader: String

    public init(error: ControlError?, leader: String) {
        self.error = error
        self.leader = leader
    }
}

/// Where the leader answers a forwarded command, and what it requires of the request.
public struct ForwardedKey: Sendable, Equatable {
    public var id: String
    /// The request key's creation revision: the answer is written only while the request
    /// the follower has not withdrawn still exists.
    public var requestRevision: Int64
    /// The follower's lease, which the answer is bound to.
    public var lease: Int64

    public init(id: String, requestRevision: Int64, lease: Int64) {
        self.id = id
        self.requestRevision = requestRevision
        self.lease = lease
    }
}

extension ClusterKeys {
    public var requests: String { self.prefix + "/requests/" }
    public func request(_ id: String) -> String { self.requests + id }
    public func answer(_ id: String) -> String { self.prefix + "/answers/" + id }
}
