import NIOCore
import RegionProbes

/// A probe loop's listener for tests of the loop's timers: its promise succeeds with the
/// tag of the first timer that fires for it. One timer per listener (a promise succeeds once).
public final class DueListener: ProbeListener {
    public let due: EventLoopPromise<UInt64>

    public init(loop: ProbeLoop) { self.due = loop.makePromise() }

    public func probeDue(_ tag: UInt64) { self.due.succeed(tag) }
    public func probeEnded(_ tag: UInt64, _ completion: ProbeCompletion) {}
}
