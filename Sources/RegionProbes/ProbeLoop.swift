import CProbeSockets
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// An event loop that runs region monitors and their probes on one thread: one `epoll`
/// set holds the probes' raw non-blocking sockets, the loop's timers are a heap, and the
/// monitors (actors) run on it as their executor. A probe's timer, its socket and the
/// recording of its result never leave this thread, and a probe has no NIO channel,
/// pipeline, bootstrap or promise chain. HAProxy's checks work the same way; see
/// docs/architecture.md ("Probes run on probe loops") and docs/performance.md for why and
/// what it saves.
///
/// It is a NIO `EventLoop`, so futures, promises, `scheduleTask` and actor isolation work
/// as on NIO's own loops. It cannot host NIO channels: probes that need one (TLS, a host
/// name to resolve) run on NIO's loops and hand their outcome back (``Prober``).
///
/// Everything but the mailbox (`remote`) and the timer id counter is touched only on the
/// loop's thread, which is what makes the `@unchecked Sendable` true.
public final class ProbeLoop: EventLoop, NIOSerialEventLoopExecutor, @unchecked Sendable {
    enum Work {
        case task(@Sendable () -> Void)
        case job(UnownedJob)
    }

    private struct Mailbox {
        var work: [Work] = []
        /// The eventfd has been written since the loop last took `work`.
        var wakePending = false
    }

    static let wakeTag = UInt64.max

    private let remote = NIOLockedValueBox(Mailbox())
    /// Work queued from this thread since the loop last took `work`: poll, do not sleep.
    private var localPending = false
    private var running: [Work] = []
    let epollDescriptor: Int32
    private let wakeDescriptor: Int32
    private var thread: pthread_t = 0

    private var timers = DeadlineHeap<UInt64>()
    private var timerWork: [UInt64: @Sendable () -> Void] = [:]
    private var dueTimers: [UInt64] = []
    private let nextTimerID = NIOLockedValueBox<UInt64>(0)
    private let incomingTimers = NIOLockedValueBox<[IncomingTimer]>([])

    /// The probes in flight (``ProbeLoop+Sockets``), by slot.
    var flights: [Flight?] = []
    /// Each slot's generation, checked before its flight is touched.
    var flightGenerations: [UInt32] = []
    /// The worst lateness (nanoseconds) of this loop's timers and probe deadlines since
    /// ``drainLateness()``: its lag, measured on the deadlines it keeps anyway. (A heartbeat
    /// timer measured it before, and woke even an idle loop ten times a second.)
    private let worstLateness = Atomic<Int64>(0)
    var freeSlots: [Int] = []
    var nextGeneration: UInt32 = 0
    var probeDeadlines = ProbeTimeouts()
    /// Timers of ``ProbeListener``s (``setProbeTimer(at:for:tag:)``), and those due now.
    var listenerTimers = ListenerTimers()
    var dueListenerTimers: [ListenerTimer] = []
    /// Answers (framers, llhttp parsers) of ended probes, reset and reused by the next.
    var spareAnswers: [HTTPAnswer] = []
    /// One receive buffer for every probe: answers are judged as they are read.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    /// Starts the loop's thread; nil when the kernel refuses an epoll or eventfd descriptor.
    init?(name: String) {
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { return nil }
        let wake = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        var event = epoll_event()
        event.events = regiond_epollin
        event.data.u64 = Self.wakeTag
        guard wake >= 0, epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event) == 0 else {
            Glibc.close(epoll)
            if wake >= 0 { Glibc.close(wake) }
            return nil
        }
        self.epollDescriptor = epoll
        self.wakeDescriptor = wake
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            Thread.current.name = name
            self.thread = pthread_self()
            started.signal()
            self.run()
        }
        thread.start()
        started.wait()
    }

    static func uptime() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    // MARK: EventLoop

    public var inEventLoop: Bool { pthread_equal(pthread_self(), self.thread) != 0 }

    public func execute(_ task: @escaping @Sendable () -> Void) {
        self.queue(.task(task))
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        self.queue(.job(UnownedJob(job)))
    }

    private func queue(_ work: Work) {
        let wake = self.remote.withLockedValue { mailbox -> Bool in
            mailbox.work.append(work)
            defer { mailbox.wakePending = true }
            return !mailbox.wakePending
        }
        if self.inEventLoop {
            self.localPending = true
        } else if wake {
            var one: UInt64 = 1
            _ = write(self.wakeDescriptor, &one, MemoryLayout<UInt64>.size)
        }
    }

    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise = self.makePromise(of: T.self)
        let id = self.nextTimerID.withLockedValue { id -> UInt64 in
            id += 1
            return id
        }
        let work: @Sendable () -> Void = {
            // Timers run on the loop, so the value never leaves it.
            do {
                promise.assumeIsolated().succeed(try task())
            } catch {
                promise.fail(error)
            }
        }
        let timer = IncomingTimer(id: id, deadline: deadline.uptimeNanoseconds, work: work)
        if self.inEventLoop {
            self.add(timer)
        } else {
            // Taken in by the loop before its next timers, and by any cancel before that:
            // a cancel that ran on the loop while this one was still queued was lost.
            self.incomingTimers.withLockedValue { $0.append(timer) }
            self.execute {}
        }
        return Scheduled(promise: promise) {
            self.onLoop { loop in
                loop.takeIncomingTimers()
                loop.timerWork[id] = nil
            }
        }
    }

    struct IncomingTimer: Sendable {
        var id: UInt64
        var deadline: UInt64
        var work: @Sendable () -> Void
    }

    private func add(_ timer: IncomingTimer) {
        self.timerWork[timer.id] = timer.work
        self.timers.push(.init(deadline: timer.deadline, id: timer.id))
    }

    /// Timers scheduled from other threads, into the heap. On the loop only, every turn:
    /// a swap, so an empty list costs a lock and no allocation.
    private func takeIncomingTimers() {
        var incoming: [IncomingTimer] = []
        self.incomingTimers.withLockedValue { swap(&$0, &incoming) }
        for timer in incoming { self.add(timer) }
    }

    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        self.scheduleTask(deadline: .now() + delay, task)
    }

    /// Runs `body` on the loop: now when called there, else queued.
    func onLoop(_ body: @escaping @Sendable (ProbeLoop) -> Void) {
        if self.inEventLoop {
            body(self)
        } else {
            self.execute { body(self) }
        }
    }

    public func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(self.inEventLoop, "not on this ProbeLoop", file: file, line: line)
    }

    public func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!self.inEventLoop, "on this ProbeLoop", file: file, line: line)
    }

    /// Probe loops live as long as the process, as NIO's singleton group does.
    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { callback(EventLoopError.unsupportedOperation) }
    }

    // MARK: the loop

    private func run() -> Never {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            let count = events.withUnsafeMutableBufferPointer { self.wait(into: $0) }
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("regiond: a probe loop's epoll_wait failed: \(String(cString: strerror(errno)))")
            }
            let now = Self.uptime()
            for index in 0..<Int(count) {
                let event = events[index]
                if event.data.u64 == Self.wakeTag {
                    var value: UInt64 = 0
                    _ = read(self.wakeDescriptor, &value, MemoryLayout<UInt64>.size)
                } else {
                    self.handle(flightTag: event.data.u64, events: event.events, now: now)
                }
            }
            self.expireProbes(now: Self.uptime())
            self.runDueListenerTimers(now: Self.uptime())
            self.takeIncomingTimers()
            self.runDueTimers(now: Self.uptime())
            self.runQueuedWork()
        }
    }

    /// Notes that something due at `deadline` runs at `now` (both uptime nanoseconds).
    func noteLateness(due deadline: UInt64, now: UInt64) {
        guard now > deadline else { return }
        let lateness = Int64(clamping: now - deadline)
        var current = self.worstLateness.load(ordering: .relaxed)
        while lateness > current {
            let (done, seen) = self.worstLateness.compareExchange(expected: current, desired: lateness, ordering: .relaxed)
            if done { break }
            current = seen
        }
    }

    /// The worst lateness since the last drain, in nanoseconds, leaving it in place.
    public func peekLateness() -> Int64 { self.worstLateness.load(ordering: .relaxed) }

    /// The worst lateness since the last call, in nanoseconds: how far behind this loop
    /// ran its own timers and probe deadlines. An idle loop (nothing due) reports zero;
    /// nothing of its is late.
    public func drainLateness() -> Int64 { self.worstLateness.exchange(0, ordering: .relaxed) }

    /// Runs the timers due at `now`, soonest first. Those they schedule run on a later
    /// turn, even when already due, so a timer that keeps rescheduling itself cannot hold
    /// the loop; one they cancel does not run.
    private func runDueTimers(now: UInt64) {
        self.dueTimers.removeAll(keepingCapacity: true)
        while let due = self.timers.popDue(now: now) {
            if self.dueTimers.isEmpty { self.noteLateness(due: due.deadline, now: now) }
            self.dueTimers.append(due.id)
        }
        for id in self.dueTimers {
            self.timerWork.removeValue(forKey: id)?()
        }
    }

    private func runQueuedWork() {
        self.localPending = false
        self.remote.withLockedValue { mailbox in
            swap(&mailbox.work, &self.running)
            mailbox.wakePending = false
        }
        for work in self.running {
            switch work {
            case .task(let task): task()
            case .job(let job): job.runSynchronously(on: self.asUnownedSerialExecutor())
            }
        }
        self.running.removeAll(keepingCapacity: true)
    }

    /// Kernels before 5.11 have no `epoll_pwait2`; the loop then waits in whole milliseconds.
    private var nanosecondWait = true

    /// Waits for events: not at all with work queued here, else until the next timer or
    /// probe deadline (to the nanosecond where the kernel can), or for ever.
    private func wait(into events: UnsafeMutableBufferPointer<epoll_event>) -> Int32 {
        var nanoseconds: UInt64?
        if self.localPending {
            nanoseconds = 0
        } else {
            var wake = UInt64.max
            if let first = self.timers.first { wake = min(wake, first.deadline) }
            if let first = self.probeDeadlines.first { wake = min(wake, first) }
            if let first = self.listenerTimers.first { wake = min(wake, first) }
            if wake != .max {
                let now = Self.uptime()
                nanoseconds = wake > now ? wake - now : 0
            }
        }
        if self.nanosecondWait {
            var timeout = timespec(tv_sec: Int(nanoseconds.map { $0 / 1_000_000_000 } ?? 0), tv_nsec: Int(nanoseconds.map { $0 % 1_000_000_000 } ?? 0))
            let count = nanoseconds == nil
                ? epoll_pwait2(self.epollDescriptor, events.baseAddress, Int32(events.count), nil, nil)
                : epoll_pwait2(self.epollDescriptor, events.baseAddress, Int32(events.count), &timeout, nil)
            if count >= 0 || errno != ENOSYS { return count }
            self.nanosecondWait = false
        }
        let milliseconds = nanoseconds.map { Int32(clamping: ($0 + 999_999) / 1_000_000) } ?? -1
        return epoll_wait(self.epollDescriptor, events.baseAddress, Int32(events.count), milliseconds)
    }
}
