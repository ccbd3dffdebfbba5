import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RegionCore
import RegionProbes
import Synchronization

/// Whether regiond holds statuses and automatic decisions because it is starved
/// (see ``ScheduleHealth``). Read by every region monitor at each evaluation, without a hop.
public final class ScheduleGate: Sendable {
    private let hold = Mutex<ScheduleHealth.Hold?>(nil)
    /// The loops' lag since the watch last read it (nil: not watched, as in unit tests).
    private let lag: LoopLag?

    public init(lag: LoopLag? = nil) {
        self.lag = lag
    }

    public var held: ScheduleHealth.Hold? { self.hold.withLock { $0 } }
    public var isHeld: Bool { self.held != nil }

    /// Why an evaluation that ran `lateness` after its tick must keep the status as it
    /// is, or nil (``ScheduleHealth/evaluationWaits(held:evaluationLateness:loopLagSinceReadingMs:holdAboveMs:)``).
    /// A late evaluation is loop lag too: it goes into the watch's next reading, so a
    /// status kept here is followed by a hold that says so (`decisions_held`).
    public func evaluationWaits(lateness: Duration) -> String? {
        self.lag?.note(lateness)
        return ScheduleHealth.evaluationWaits(held: self.held, evaluationLateness: lateness, loopLagSinceReadingMs: self.lag?.peekWorstMs() ?? 0)
    }

    func set(_ hold: ScheduleHealth.Hold?) {
        self.hold.withLock { $0 = hold }
    }
}

/// How far behind the event loops that run probes are. A ``ProbeLoop`` measures itself:
/// how late its own timers and probe deadlines ran (every 10 ms on a loop with probes,
/// nothing on an idle one). On NIO's loops a timer every 100 ms notes how late it fired.
/// A starved process runs everything late, so either shows it.
public final class LoopLag: Sendable {
    static let period: TimeAmount = .milliseconds(100)
    private let worstNanoseconds = Atomic<Int64>(0)
    /// NIO's lock, which ThreadSanitizer understands (see ``ProbeStatistics``).
    private let timers = NIOLockedValueBox<[ObjectIdentifier: Scheduled<Void>]>([:])
    private let probeLoops = NIOLockedValueBox<[ProbeLoop]>([])
    private let stopped = Atomic<Bool>(false)

    public init() {}

    /// Watches every loop of `group`: a probe loop by its own lateness, any other by a
    /// heartbeat. Once per loop; starting again adds nothing.
    public func start(on group: any EventLoopGroup) {
        for loop in group.makeIterator() {
            if let probeLoop = loop as? ProbeLoop {
                self.probeLoops.withLockedValue { loops in
                    if !loops.contains(where: { $0 === probeLoop }) { loops.append(probeLoop) }
                }
            } else if self.timers.withLockedValue({ $0[ObjectIdentifier(loop)] == nil }) {
                self.beat(on: loop, expected: .now() + Self.period)
            }
        }
    }

    private func beat(on loop: any EventLoop, expected: NIODeadline) {
        guard !self.stopped.load(ordering: .relaxed) else { return }
        let scheduled = loop.scheduleTask(deadline: expected) {
            self.raise(to: Int64(clamping: (NIODeadline.now() - expected).nanoseconds))
            self.beat(on: loop, expected: .now() + Self.period)
        }
        self.timers.withLockedValue { $0[ObjectIdentifier(loop)] = scheduled }
    }

    private func raise(to lag: Int64) {
        var current = self.worstNanoseconds.load(ordering: .relaxed)
        while lag > current {
            let (done, seen) = self.worstNanoseconds.compareExchange(expected: current, desired: lag, ordering: .relaxed)
            if done { break }
            current = seen
        }
    }

    /// Counts a late timer seen elsewhere (a region's evaluation tick) as lag.
    public func note(_ lateness: Duration) {
        let nanoseconds = lateness.components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !nanoseconds.overflow else { return self.raise(to: .max) }
        self.raise(to: nanoseconds.partialValue.addingReportingOverflow(lateness.components.attoseconds / 1_000_000_000).partialValue)
    }

    /// The worst lag since the last drain, in milliseconds, leaving it in place.
    public func peekWorstMs() -> Double {
        let loops = self.probeLoops.withLockedValue { $0 }
        return Double(loops.reduce(self.worstNanoseconds.load(ordering: .relaxed)) { max($0, $1.peekLateness()) }) / 1e6
    }

    /// The worst lag since the last call, in milliseconds.
    public func drainWorstMs() -> Double {
        let loops = self.probeLoops.withLockedValue { $0 }
        return Double(loops.reduce(self.worstNanoseconds.exchange(0, ordering: .relaxed)) { max($0, $1.drainLateness()) }) / 1e6
    }

    public func stop() {
        self.stopped.store(true, ordering: .relaxed)
        for timer in self.timers.withLockedValue({ Array($0.values) }) { timer.cancel() }
    }
}
