import FoundationEssentials

/// When a value a peer wrote to etcd replaces the one held for the same key.
///
/// etcd applies writes in the order it commits them, not in the order they were sent: a
/// request that timed out at its sender (a member without quorum held it) can still be
/// applied after a newer one, once the cluster heals. Seen by `make chaos`: an observer's
/// "us is failing" landed after its "us is healthy", and the quorum moved traffic on it.
/// So a write is stamped with its writer's time (`at`), and an older one for the same key
/// of the same lease incarnation (its creation revision) never replaces a newer one.
public struct PeerWrite: Sendable, Equatable {
    /// The key's creation revision: a new lease (a restarted peer) writes a new key.
    public var createRevision: Int64
    /// The writer's own clock when it wrote (monotonic within one run of the writer).
    public var at: Date

    public init(createRevision: Int64, at: Date) {
        self.createRevision = createRevision
        self.at = at
    }

    /// Whether `self` replaces `held`.
    public func supersedes(_ held: PeerWrite?) -> Bool {
        guard let held else { return true }
        if self.createRevision != held.createRevision { return self.createRevision > held.createRevision }
        return self.at >= held.at
    }
}
