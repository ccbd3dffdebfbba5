import FoundationEssentials

/// When the leader may decide: the fence on this instance's side.
///
/// etcd's transaction rejects the write of a deposed leader; this rule makes a leader
/// stop before it gets there. It may decide only while it holds the election and its
/// last lease renewal, counted from when that renewal was *sent* (etcd restarts the
/// TTL later than that, never earlier), leaves more than one request's time before the
/// lease could expire. A renewal that fails ends leadership at once (Patroni learned not
/// to trust anything else: a partitioned member answers with stale reads).
public struct LeaderLease: Sendable, Equatable {
    public var ttl: Duration
    public var requestTimeout: Duration
    /// Send time of the last renewal etcd confirmed; nil before the first.
    public private(set) var renewedAt: Date?
    /// The election key etcd gave this instance, while it is the leader.
    public private(set) var leadership: Leadership?

    /// What etcd's campaign returned: the key whose creation revision fences every write.
    public struct Leadership: Sendable, Equatable {
        public var key: String
        public var revision: Int64

        public init(key: String, revision: Int64) {
            self.key = key
            self.revision = revision
        }
    }

    public init(ttl: Duration, requestTimeout: Duration) {
        self.ttl = ttl
        self.requestTimeout = requestTimeout
    }

    /// A renewal sent at `sentAt` was confirmed (a fresh lease counts as one).
    public mutating func renewed(sentAt: Date) {
        self.renewedAt = max(sentAt, self.renewedAt ?? sentAt)
    }

    /// A renewal failed or etcd no longer knows the lease: leadership ends now.
    public mutating func renewalFailed() {
        self.renewedAt = nil
        self.leadership = nil
    }

    public mutating func elected(_ leadership: Leadership) {
        self.leadership = leadership
    }

    /// Stepping down (a fenced write was rejected, or regiond is stopping).
    public mutating func deposed() {
        self.leadership = nil
    }

    /// The last moment this instance may start a decision, or nil when it may not.
    public var decideUntil: Date? {
        guard self.leadership != nil, let renewedAt = self.renewedAt else { return nil }
        return renewedAt.addingTimeInterval((self.ttl - self.requestTimeout).seconds)
    }

    public func mayDecide(now: Date) -> Bool {
        guard let until = self.decideUntil else { return false }
        return now < until
    }
}
