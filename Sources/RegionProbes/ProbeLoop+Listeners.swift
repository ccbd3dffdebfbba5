import NIOCore

/// What a region monitor is to its ``ProbeLoop``: told, on the loop, when one of its
/// probe timers fires and how each probe it started ended.
///
/// This is the per-probe path of every scheduled probe, so it has no promise, future,
/// closure, task or lock in it: a timer is an entry in the loop's ``ListenerTimers``, a
/// probe a slot, and each end is one call with a tag the listener chose (which
/// endpoint, which schedule). NIO's `scheduleTask` and a promise per probe cost more
/// user time than the probe's own system calls (docs/performance.md, "The listener path").
public protocol ProbeListener: AnyObject, Sendable {
    /// A timer set with ``ProbeLoop/setProbeTimer(at:for:tag:)`` is due. On the loop.
    func probeDue(_ tag: UInt64)
    /// A probe started with ``Prober/start(_:on:for:tag:)`` ended. On the loop the
    /// probe was started for; exactly once per start.
    func probeEnded(_ tag: UInt64, _ completion: ProbeCompletion)
}

/// The listeners' timers of a ``ProbeLoop``, by deadline. Monitors set theirs on a 10 ms
/// grid, so at 1,000 probes a second about ten share each deadline, and a new one is
/// mostly at or near the end: buckets of timers, one per deadline, in an array sorted
/// by deadline (soonest first), found by a binary search. Setting and taking a timer is
/// then a few comparisons and an append, with no hash and no heap; a heap entry per
/// timer cost 2.6% of the loop's CPU, and a dictionary of buckets with a heap of their
/// deadlines about 1.5%.
struct ListenerTimers {
    struct Bucket {
        var deadline: UInt64
        var timers: [ProbeLoop.ListenerTimer]
    }

    /// Sorted by deadline from `head` on; those before `head` are taken (the array is
    /// compacted lazily).
    private var buckets: [Bucket] = []
    private var head = 0
    /// Emptied buckets' storage, for the next.
    private var spare: [[ProbeLoop.ListenerTimer]] = []

    var first: UInt64? { self.head < self.buckets.count ? self.buckets[self.head].deadline : nil }

    mutating func add(_ timer: ProbeLoop.ListenerTimer, at deadline: UInt64) {
        // The first bucket at or after `deadline`: usually the last one or none.
        var low = self.head
        var high = self.buckets.count
        if let last = self.buckets.last, self.head < self.buckets.count, last.deadline < deadline {
            low = high
        }
        while low < high {
            let middle = (low + high) / 2
            if self.buckets[middle].deadline < deadline { low = middle + 1 } else { high = middle }
        }
        if low < self.buckets.count, self.buckets[low].deadline == deadline {
            self.buckets[low].timers.append(timer)
            return
        }
        var timers = self.spare.popLast() ?? []
        timers.append(timer)
        self.buckets.insert(Bucket(deadline: deadline, timers: timers), at: low)
    }

    /// Moves the timers due at `now` into `due`, soonest deadline first (in the order
    /// they were set within one deadline).
    mutating func takeDue(now: UInt64, into due: inout [ProbeLoop.ListenerTimer]) {
        while self.head < self.buckets.count, self.buckets[self.head].deadline <= now {
            var timers: [ProbeLoop.ListenerTimer] = []
            swap(&timers, &self.buckets[self.head].timers)
            due.append(contentsOf: timers)
            timers.removeAll(keepingCapacity: true)
            if self.spare.count < 64 { self.spare.append(timers) }
            self.head += 1
        }
        if self.head == self.buckets.count {
            self.buckets.removeAll(keepingCapacity: true)
            self.head = 0
        } else if self.head > 256, self.head * 2 > self.buckets.count {
            self.buckets.removeFirst(self.head)
            self.head = 0
        }
    }
}

extension ProbeLoop {
    struct ListenerTimer {
        var listener: any ProbeListener
        var tag: UInt64
    }

    /// Calls `listener.probeDue(tag)` on this loop at `deadline` (uptime nanoseconds).
    /// There is no cancelling: a listener ignores a tag it no longer expects. On the loop only.
    public func setProbeTimer(at deadline: UInt64, for listener: any ProbeListener, tag: UInt64) {
        assert(self.inEventLoop, "setProbeTimer off its ProbeLoop")
        self.listenerTimers.add(ListenerTimer(listener: listener, tag: tag), at: deadline)
    }

    /// Tells the listeners whose timers are due. Those they set run on a later turn,
    /// even when already due, so a listener cannot hold the loop.
    func runDueListenerTimers(now: UInt64) {
        guard let first = self.listenerTimers.first, first <= now else { return }
        self.noteLateness(due: first, now: now)
        self.listenerTimers.takeDue(now: now, into: &self.dueListenerTimers)
        for timer in self.dueListenerTimers { timer.listener.probeDue(timer.tag) }
        self.dueListenerTimers.removeAll(keepingCapacity: true)
    }
}
