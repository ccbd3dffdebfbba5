import NIOCore

/// What a region monitor is to its ``ProbeLoop``: told, on the loop, when one of its
/// probe timers fires and how each probe it started ended.
///
/// This is the per-probe path of every scheduled probe, so it has no promise, future,
/// closure, task or lock in it: a timer is a heap entry, a probe a slot, and each end is
/// one call with a tag the listener chose (which endpoint, which schedule). NIO's
/// `scheduleTask` and a promise per probe cost more user time than the probe's own
/// system calls (docs/performance.md, "The probe loops").
public protocol ProbeListener: AnyObject, Sendable {
    /// A timer set with ``ProbeLoop/setProbeTimer(at:for:tag:)`` is due. On the loop.
    func probeDue(_ tag: UInt64)
    /// A probe started with ``Prober/start(_:on:for:tag:)`` ended. On the loop the
    /// probe was started for; exactly once per start.
    func probeEnded(_ tag: UInt64, _ completion: ProbeCompletion)
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
        self.listenerTimers.push(.init(deadline: deadline, id: ListenerTimer(listener: listener, tag: tag)))
    }

    /// Tells the listeners whose timers are due. Those they set run on a later turn,
    /// even when already due, so a listener cannot hold the loop.
    func runDueListenerTimers(now: UInt64) {
        guard let first = self.listenerTimers.first, first.deadline <= now else { return }
        while let due = self.listenerTimers.popDue(now: now) { self.dueListenerTimers.append(due.id) }
        for timer in self.dueListenerTimers { timer.listener.probeDue(timer.tag) }
        self.dueListenerTimers.removeAll(keepingCapacity: true)
    }
}
