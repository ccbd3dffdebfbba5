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
/// grid, so at 1,000 probes a second about ten share each deadline: a bucket per
/// deadline, and a heap of the distinct deadlines, make setting and taking a timer a
/// hash and an append, where a heap entry per timer cost 2.6% of the loop's CPU.
struct ListenerTimers {
    private var deadlines = DeadlineHeap<Void>()
    private var buckets: [UInt64: [ProbeLoop.ListenerTimer]] = [:]
    /// Emptied buckets, kept for their storage.
    private var spare: [[ProbeLoop.ListenerTimer]] = []

    var first: UInt64? { self.deadlines.first?.deadline }

    mutating func add(_ timer: ProbeLoop.ListenerTimer, at deadline: UInt64) {
        if let index = self.buckets.index(forKey: deadline) {
            self.buckets.values[index].append(timer)
        } else {
            var bucket = self.spare.popLast() ?? []
            bucket.append(timer)
            self.buckets[deadline] = bucket
            self.deadlines.push(.init(deadline: deadline, id: ()))
        }
    }

    /// Moves the timers due at `now` into `due`, soonest deadline first (in the order
    /// they were set within one deadline).
    mutating func takeDue(now: UInt64, into due: inout [ProbeLoop.ListenerTimer]) {
        while let entry = self.deadlines.popDue(now: now) {
            guard var bucket = self.buckets.removeValue(forKey: entry.deadline) else { continue }
            due.append(contentsOf: bucket)
            bucket.removeAll(keepingCapacity: true)
            if self.spare.count < 64 { self.spare.append(bucket) }
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
