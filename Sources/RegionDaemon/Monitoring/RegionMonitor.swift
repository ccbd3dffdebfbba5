import Foundation
import NIOCore
import NIOPosix
import RegionCore
import RegionProbes
import Synchronization

/// Watches one region: runs the probes of every endpoint, keeps the region's
/// sliding window, and evaluates its status on a fixed tick.
///
/// The actor owns the window, the evaluator and the probe schedule; nothing else
/// touches them. It runs on one NIO event loop (its executor), and so do its
/// probes: a probe's timer, its connection and the recording of its result happen
/// on that one thread, with no task and no thread hop per probe.
public actor RegionMonitor<C: Clock> where C.Duration == Duration {
    /// The event loop this actor and its probes run on.
    nonisolated let loop: any EventLoop
    /// The same loop when it is a ``ProbeLoop``: probe timers are then its heap entries.
    nonisolated let probeLoop: ProbeLoop?
    /// How the loop's calls enter the actor (``Entries``).
    nonisolated let entries = Entries()
    public nonisolated var unownedExecutor: UnownedSerialExecutor { self.loop.executor.asUnownedSerialExecutor() }
    var stopped = false

    public private(set) var config: RegionConfig {
        didSet { self.endpointReports = Self.endpointReports(self.config) }
    }
    /// The settled part of each endpoint's report, made when the configuration changes:
    /// a report is built at every evaluation, each region every second.
    private var endpointReports: [EndpointReport]
    var window: RegionWindow
    private var evaluator: StatusEvaluator
    var endpoints = EndpointTable()
    /// Who waits for a scheduled probe's end (`probe REGION`, `stop()`), by its tag.
    var waiting: [UInt64: [EventLoopPromise<ProbeCompletion>]] = [:]
    /// `probe REGION`'s rate limit.
    var onDemand = OnDemandProbeLimit()
    private var evaluationTask: Task<Void, Never>?
    /// The evaluation tick as a loop timer (``ticksOnLoop``): bumped to cancel it, and when it is due.
    private var tickGeneration = 0
    private var tickDue: C.Instant?
    private var metrics: RegionMetrics
    var generation = 0
    /// Jitter and first-probe spread; seeded once (no system call per probe).
    var random = JitterRandom(seed: UInt64.random(in: .min ... .max))
    /// What readers outside the actor see: the region's report and when its evaluation tick
    /// last ran (the supervisor's liveness check). Refreshed after every evaluation and
    /// update, so `status`, `STATUS=`, a metrics scrape and the watchdog read every region
    /// without a hop to its event loop, however busy that loop is.
    private nonisolated let published: Mutex<Published>
    struct Published: Sendable {
        var report: RegionReport
        /// When the evaluation tick was (re)started and when it last ran.
        var startedAt: C.Instant?
        var evaluatedAt: C.Instant?
    }

    let time: TimeBase<C>
    let prober: Prober
    let bus: EventBus
    let statistics: ProbeStatistics
    /// While it is held (regiond starved), evaluations keep the status as it is.
    let gate: ScheduleGate
    /// Where each evaluation's failover signal goes (the failover controller); sent on change only.
    let signals: @Sendable (String, RegionSignal) -> Void
    private var lastSignal: RegionSignal?

    public init(
        config: RegionConfig, time: TimeBase<C>, prober: Prober, bus: EventBus, statistics: ProbeStatistics,
        gate: ScheduleGate = ScheduleGate(),
        loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
        signals: @escaping @Sendable (String, RegionSignal) -> Void = { _, _ in }
    ) {
        self.loop = loop
        self.probeLoop = loop as? ProbeLoop
        self.config = config
        self.endpointReports = Self.endpointReports(config)
        self.signals = signals
        self.window = RegionWindow(length: config.status.window)
        self.evaluator = StatusEvaluator(thresholds: config.status)
        self.evaluator.requirement = config.endpointRequirement
        self.time = time
        self.prober = prober
        self.bus = bus
        self.statistics = statistics
        self.gate = gate
        self.metrics = .empty(windowSeconds: config.status.window.seconds)
        self.published = Mutex(Published(report: Self.report(
            config: config, endpointReports: self.endpointReports, evaluator: self.evaluator, metrics: self.metrics, endpoints: EndpointTable(), gate: gate)))
    }

    /// The region's brief as of its last evaluation or update.
    public nonisolated var latestBrief: RegionBrief { self.published.withLock { $0.report.brief } }
    /// The region's report as of its last evaluation or update (`report()` is the live one).
    public nonisolated var latestReport: RegionReport { self.published.withLock { $0.report } }
    /// When the evaluation tick started (nil: not started) and when it last ran, for the watchdog.
    public nonisolated var ticks: (started: C.Instant?, evaluated: C.Instant?) { self.published.withLock { ($0.startedAt, $0.evaluatedAt) } }

    private func publish(evaluatedAt: C.Instant? = nil) {
        let report = self.report()
        self.published.withLock { published in
            published.report = report
            if let evaluatedAt { published.evaluatedAt = evaluatedAt }
        }
    }

    public var status: RegionStatus { self.evaluator.status }

    /// Starts every probe loop and the evaluation tick.
    public func start() {
        self.stopped = false
        for endpoint in self.config.endpoints { self.startEndpoint(endpoint) }
        self.startEvaluation()
    }

    /// Stops probing and evaluating; waits for probes in flight to end (their timeouts bound them).
    public func stop() async {
        // Timers still set find the monitor stopped and do nothing.
        self.stopped = true
        let running = self.endpoints.slots.indices.compactMap { slot in
            self.endpoints.slots[slot].flatMap { $0.running ? self.whenRunningEnds(EndpointTable.tag(slot: slot, generation: $0.generation)) : nil }
        }
        self.evaluationTask?.cancel()
        await self.evaluationTask?.value
        self.evaluationTask = nil
        for future in running {
            _ = try? await future.get()
        }
    }

    /// The end of the scheduled probe `tag` names, which is running now.
    func whenRunningEnds(_ tag: UInt64) -> EventLoopFuture<ProbeCompletion> {
        let promise = self.loop.makePromise(of: ProbeCompletion.self)
        self.waiting[tag, default: []].append(promise)
        return promise.futureResult
    }

    /// Applies a changed configuration of this region. Endpoints whose settings
    /// did not change keep their loops and their samples.
    public func update(_ new: RegionConfig) {
        let oldNames = Set(self.endpoints.names)
        let newNames = Set(new.endpoints.map(\.name))
        // Their timers and probes in flight find the slot gone or its generation moved on.
        for name in oldNames.subtracting(newNames) {
            self.endpoints[name] = nil
        }
        for endpoint in new.endpoints {
            if let existing = self.endpoints[endpoint.name], existing.config.sameSettings(as: endpoint) { continue }
            self.startEndpoint(endpoint)
        }
        self.window.retainEndpoints(newNames)
        if new.status.window != self.config.status.window { self.window.length = new.status.window }
        self.evaluator.requirement = new.endpointRequirement
        if new.status != self.config.status {
            self.evaluator.thresholds = new.status
            if new.status.evaluationInterval != self.config.status.evaluationInterval {
                self.evaluationTask?.cancel()
                self.config = new
                self.startEvaluation()
            }
        }
        self.config = new
        self.publish()
    }

    // MARK: evaluation (probing is in RegionMonitor+Probing.swift)

    /// Whether the evaluation tick is a timer of the monitor's ``ProbeLoop`` rather than a
    /// task sleeping on the clock: with the real clock, on a probe loop. A task's sleep
    /// wakes a pool thread and then hops to the loop, every region every interval: at 100
    /// regions the pool's threads used 33 ms of every 10 s, 15 ms with the loop's timer.
    /// An injected clock (tests) ticks only as it is advanced, so it keeps the task.
    private var ticksOnLoop: Bool { self.probeLoop != nil && C.self == ContinuousClock.self }

    /// Marks the tag of the evaluation tick's timer (endpoint slots never reach it).
    static var tickSlot: UInt64 { 0xFFFF_FFFF }

    private func startEvaluation() {
        let interval = self.config.status.evaluationInterval
        let started = self.time.clock.now
        self.published.withLock {
            $0.startedAt = started
            $0.evaluatedAt = nil
        }
        self.evaluationTask?.cancel()
        self.tickGeneration += 1
        if self.ticksOnLoop {
            self.setTick(due: started.advanced(by: interval))
            return
        }
        self.evaluationTask = Task { [time] in
            var next = time.clock.now.advanced(by: interval)
            while !Task.isCancelled {
                do {
                    try await time.clock.sleep(until: next, tolerance: nil)
                } catch {
                    return
                }
                await self.evaluate(due: next)
                next = StatusEvaluator.nextRound(after: next, now: time.clock.now, interval: interval)
            }
        }
    }

    private func setTick(due: C.Instant) {
        guard !self.stopped, let probeLoop = self.probeLoop else { return }
        self.tickDue = due
        let wait = self.time.clock.now.duration(to: due)
        let exact = NIODeadline.now() + .nanoseconds(max(0, Int64(wait.seconds * 1e9)))
        // On the probes' 10 ms grid, as their timers are: the tick then shares a wake-up
        // with them instead of waking the loop on its own, every region every second.
        let fire = Self.deadline(ProbeCadence.timer(for: Self.uptime(exact), slot: Self.timerSlot))
        probeLoop.setProbeTimer(at: fire.uptimeNanoseconds, for: self, tag: Self.tickSlot | UInt64(UInt32(truncatingIfNeeded: self.tickGeneration)) << 32)
    }

    /// The evaluation tick's timer fired: evaluate, publish any change in order, and set the next.
    func tick(_ tag: UInt64) {
        guard !self.stopped, UInt32(truncatingIfNeeded: tag >> 32) == UInt32(truncatingIfNeeded: self.tickGeneration), let due = self.tickDue else { return }
        _ = self.evaluateRound(due: due)
        self.setTick(due: StatusEvaluator.nextRound(after: due, now: self.time.clock.now, interval: self.config.status.evaluationInterval))
    }

    /// One evaluation round; publishes a `status_changed` event when the status moves.
    /// - Parameter due: when the tick was due (nil: now), to tell a starved evaluation.
    func evaluate(due: C.Instant? = nil) async {
        if self.evaluateRound(due: due) != nil { await self.bus.settle() }
    }

    /// One evaluation round; posts a `status_changed` event when the status moved and returns it.
    private func evaluateRound(due: C.Instant?) -> Event? {
        #if DEBUG
        if FaultSwitch.evaluationsStalled.load(ordering: .relaxed) { return nil }
        #endif
        let instant = self.time.clock.now
        let now = self.time.date(instant)
        self.metrics = self.window.metrics(now: now, naming: !self.evaluator.requirement.isPooled)
        let lateness = due.map { max(.zero, $0.duration(to: instant)) } ?? .zero
        guard self.gate.evaluationWaits(lateness: lateness) == nil else {
            // regiond itself is starved: what it sees now says nothing about the region.
            self.publish(evaluatedAt: instant)
            return nil
        }
        let change = self.evaluator.evaluate(self.metrics, now: now)
        self.publish(evaluatedAt: instant)
        // The status change takes its place in the event sequence before the signal goes
        // to the failover controller: a decision it causes always comes after it.
        let event = change.map { change in
            let m = self.metrics
            return Event(
                time: now, region: self.config.id,
                message: "region \(self.config.id) is \(change.to.rawValue) (was \(change.from.rawValue)): \(change.reasons.first ?? "")",
                .statusChanged(
                    StatusMove(
                        status: change.to, previousStatus: change.from, reasons: change.reasons, errorRate: m.errorRate, samples: m.samples,
                        capacity: m.capacity, latencyP95Ms: m.latencyP95Ms)))
        }
        if let event { self.bus.post([event]) }
        if let raw = self.evaluator.lastRaw {
            let signal = RegionSignal.from(
                status: self.evaluator.status, raw: raw, metrics: self.metrics, triggers: self.config.failover.triggers,
                percentile: self.config.status.latencyPercentile, evaluationInterval: self.config.status.evaluationInterval, now: now)
            if signal != self.lastSignal {
                self.lastSignal = signal
                self.signals(self.config.id, signal)
            }
        }
        return event
    }

    // MARK: reports

    public func brief() -> RegionBrief {
        Self.brief(config: self.config, evaluator: self.evaluator, metrics: self.metrics)
    }

    static func brief(config: RegionConfig, evaluator: StatusEvaluator, metrics: RegionMetrics) -> RegionBrief {
        RegionBrief(
            id: config.id, status: evaluator.status, since: evaluator.since,
            priority: config.priority, weight: config.weight, enabled: config.enabled,
            endpoints: config.endpoints.count, endpointsPassing: metrics.endpointsPassing,
            errorRate: metrics.errorRate, latencyP95Ms: metrics.latencyP95Ms, capacity: metrics.capacity,
            reason: evaluator.reasons.first ?? "")
    }

    private static func endpointReports(_ config: RegionConfig) -> [EndpointReport] {
        config.endpoints.map { endpoint in
            var report = EndpointReport(
                name: endpoint.name, kind: endpoint.check.kind, target: endpoint.check.target,
                intervalSeconds: endpoint.interval.seconds, timeoutSeconds: endpoint.timeout.seconds,
                probes: 0, consecutiveFailures: 0, last: nil)
            report.critical = endpoint.critical ? true : nil
            return report
        }
    }

    public func report() -> RegionReport {
        Self.report(
            config: self.config, endpointReports: self.endpointReports, evaluator: self.evaluator, metrics: self.metrics, endpoints: self.endpoints, gate: self.gate)
    }

    private static func report(
        config: RegionConfig, endpointReports: [EndpointReport], evaluator: StatusEvaluator, metrics: RegionMetrics, endpoints runtimes: EndpointTable,
        gate: ScheduleGate
    ) -> RegionReport {
        var endpoints = endpointReports
        for index in endpoints.indices { runtimes.fill(&endpoints[index]) }
        let held = gate.held.map { ["status held while regiond is overloaded (\($0.reason)); see regionctl status"] } ?? []
        var report = RegionReport(
            brief: Self.brief(config: config, evaluator: evaluator, metrics: metrics), metrics: metrics, reasons: held + evaluator.reasons,
            pending: evaluator.pending, thresholds: ThresholdsReport(config.status), endpoints: endpoints)
        report.require = config.require == .pooled ? nil : config.require.description
        return report
    }
}
