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
    public nonisolated var unownedExecutor: UnownedSerialExecutor { self.loop.executor.asUnownedSerialExecutor() }
    private var stopped = false

    public private(set) var config: RegionConfig
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
    /// Status changes found by loop ticks, published in order.
    private var publishing: Task<Void, Never>?
    private var metrics: RegionMetrics
    private var generation = 0
    /// Jitter and first-probe spread; seeded once (no system call per probe).
    private var random = JitterRandom(seed: UInt64.random(in: .min ... .max))
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
        self.signals = signals
        self.window = RegionWindow(length: config.status.window)
        self.evaluator = StatusEvaluator(thresholds: config.status)
        self.time = time
        self.prober = prober
        self.bus = bus
        self.statistics = statistics
        self.gate = gate
        self.metrics = .empty(windowSeconds: config.status.window.seconds)
        self.published = Mutex(Published(report: Self.report(config: config, evaluator: self.evaluator, metrics: self.metrics, endpoints: EndpointTable(), gate: gate)))
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
        await self.publishing?.value
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

    // MARK: probing

    private func startEndpoint(_ endpoint: EndpointConfig) {
        self.generation += 1
        let cadence = ProbeCadence(interval: endpoint.interval, jitter: endpoint.jitter)
        let prepared = self.prober.prepare(endpoint)
        var runtime = self.endpoints[endpoint.name] ?? EndpointRuntime(config: endpoint, prepared: prepared, cadence: cadence, generation: self.generation)
        runtime.config = endpoint
        runtime.prepared = prepared
        runtime.cadence = cadence
        runtime.generation = self.generation
        // A replaced endpoint's probe in flight is not awaited: its result is ignored by generation.
        runtime.running = false
        self.endpoints[endpoint.name] = runtime
        // Spread the first probes of all endpoints over one interval.
        let due = cadence.first(after: Self.uptime(.now()), fraction: Double.random(in: 0..<1, using: &self.random))
        self.schedule(EndpointTable.tag(slot: self.endpoints.slot(of: endpoint.name)!, generation: self.generation), due: due)
    }

    static func uptime(_ deadline: NIODeadline) -> Duration { .nanoseconds(Int64(deadline.uptimeNanoseconds)) }
    private static func deadline(_ uptime: Duration) -> NIODeadline {
        .uptimeNanoseconds(UInt64(max(0, uptime.components.seconds)) * 1_000_000_000 + UInt64(max(0, uptime.components.attoseconds / 1_000_000_000)))
    }

    /// Timers fire on a grid of this width, so that probes due close together share a wake-up.
    static var timerSlot: Duration { .milliseconds(10) }

    /// Sets the timer of the endpoint's next probe. The timer fires on this actor's loop:
    /// on a ``ProbeLoop`` as an entry in its timer heap, else as a NIO task.
    private func schedule(_ tag: UInt64, due: Duration) {
        guard !self.stopped, let slot = self.endpoints.current(tag) else { return }
        self.endpoints.update(slot) { $0.due = due }
        let fire = Self.deadline(ProbeCadence.timer(for: due, slot: Self.timerSlot))
        if let probeLoop = self.probeLoop {
            probeLoop.setProbeTimer(at: fire.uptimeNanoseconds, for: self, tag: tag)
        } else {
            _ = self.loop.scheduleTask(deadline: fire) { self.probeDue(tag) }
        }
    }

    /// Starts one probe. The next one is planned only when this one has ended (which
    /// its timeout bounds), so an endpoint's probes never overlap.
    private func probe(_ tag: UInt64) {
        guard !self.stopped, let slot = self.endpoints.current(tag) else { return }
        let start = Self.uptime(.now())
        // In place: copying an endpoint's runtime (its config and last result) per probe
        // was a measurable share of the probe's CPU.
        let prepared = self.endpoints.update(slot) { runtime in
            runtime.startedAt = start
            runtime.running = true
            return runtime.prepared
        }
        self.prober.start(prepared, on: self.loop, for: self, tag: tag)
    }

    private func finished(_ tag: UInt64, completion: ProbeCompletion) {
        if !self.waiting.isEmpty, let waiters = self.waiting.removeValue(forKey: tag) {
            for waiter in waiters { waiter.succeed(completion) }
        }
        guard let slot = self.endpoints.current(tag) else { return }
        // Read in place: a copy of the runtime (its config and last result) per probe costs.
        let (running, name, due, start, timeout) = self.endpoints.update(slot) { ($0.running, $0.config.name, $0.due, $0.startedAt, $0.config.timeout) }
        guard running else { return }
        let outcome = completion.outcome
        // When the probe ended (a probe run on NIO's loops hands its result back later).
        let end = max(start, Self.uptime(completion.endedAt))
        let finishedAt = self.time.now
        var result = ProbeResult(
            endpoint: name,
            scheduledAt: finishedAt.addingTimeInterval(-(end - due).seconds),
            finishedAt: finishedAt,
            latencyMs: (end - start).milliseconds,
            latenessMs: ProbeCadence.lateness(due: due, startedAt: start).milliseconds,
            failure: outcome.failure,
            detail: outcome.detail,
            capacity: outcome.capacity
        )
        result.lag = outcome.lag
        if case .discounted(let why) = ProbeEvidence.judge(failure: outcome.failure, startLateness: start - due, elapsed: end - start, timeout: timeout) {
            result.notCounted = why
        }
        let counted = result.notCounted == nil
        if counted { self.window.record(result) }
        let spread = Double.random(in: -1...1, using: &self.random)
        let next = self.endpoints.update(slot) { $0.finished(with: result, counted: counted, end: end, spread: spread) }
        self.statistics.record(latenessMs: result.latenessMs, counted: counted)
        self.schedule(tag, due: next)
    }

    // MARK: evaluation

    /// Whether the evaluation tick is a timer of the monitor's ``ProbeLoop`` rather than a
    /// task sleeping on the clock: with the real clock, on a probe loop. A task's sleep
    /// wakes a pool thread and then hops to the loop, every region every interval, which
    /// was a tenth of regiond's CPU beside its probes. An injected clock (tests) ticks
    /// only as it is advanced, so it keeps the task.
    private var ticksOnLoop: Bool { self.probeLoop != nil && C.self == ContinuousClock.self }

    /// Marks the tag of the evaluation tick's timer (endpoint slots never reach it).
    private static var tickSlot: UInt64 { 0xFFFF_FFFF }

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
                next = next.advanced(by: interval)
                let now = time.clock.now
                if next < now { next = now.advanced(by: interval) }
            }
        }
    }

    private func setTick(due: C.Instant) {
        guard !self.stopped, let probeLoop = self.probeLoop else { return }
        self.tickDue = due
        let wait = self.time.clock.now.duration(to: due)
        let fire = NIODeadline.now() + .nanoseconds(max(0, Int64(wait.seconds * 1e9)))
        probeLoop.setProbeTimer(at: fire.uptimeNanoseconds, for: self, tag: Self.tickSlot | UInt64(UInt32(truncatingIfNeeded: self.tickGeneration)) << 32)
    }

    /// The evaluation tick's timer fired: evaluate, publish any change in order, and set the next.
    private func tick(_ tag: UInt64) {
        guard !self.stopped, UInt32(truncatingIfNeeded: tag >> 32) == UInt32(truncatingIfNeeded: self.tickGeneration), let due = self.tickDue else { return }
        if let change = self.evaluateRound(due: due) {
            self.publishing = Task { [previous = self.publishing, bus] in
                await previous?.value
                await bus.publish(change)
            }
        }
        let interval = self.config.status.evaluationInterval
        var next = due.advanced(by: interval)
        let now = self.time.clock.now
        if next < now { next = now.advanced(by: interval) }
        self.setTick(due: next)
    }

    /// One evaluation round; publishes a `status_changed` event when the status moves.
    /// - Parameter due: when the tick was due (nil: now), to tell a starved evaluation.
    func evaluate(due: C.Instant? = nil) async {
        if let change = self.evaluateRound(due: due) { await self.bus.publish(change) }
    }

    /// One evaluation round; returns the `status_changed` event to publish, if the status moved.
    private func evaluateRound(due: C.Instant?) -> Event? {
        #if DEBUG
        if FaultSwitch.evaluationsStalled.load(ordering: .relaxed) { return nil }
        #endif
        let instant = self.time.clock.now
        let now = self.time.date(instant)
        self.metrics = self.window.metrics(now: now)
        let lateness = due.map { max(.zero, $0.duration(to: instant)) } ?? .zero
        guard self.gate.evaluationWaits(lateness: lateness) == nil else {
            // regiond itself is starved: what it sees now says nothing about the region.
            self.publish(evaluatedAt: instant)
            return nil
        }
        let change = self.evaluator.evaluate(self.metrics, now: now)
        self.publish(evaluatedAt: instant)
        if let raw = self.evaluator.lastRaw {
            let signal = RegionSignal.from(
                status: self.evaluator.status, raw: raw, metrics: self.metrics, triggers: self.config.failover.triggers,
                percentile: self.config.status.latencyPercentile, evaluationInterval: self.config.status.evaluationInterval, now: now)
            if signal != self.lastSignal {
                self.lastSignal = signal
                self.signals(self.config.id, signal)
            }
        }
        guard let change else { return nil }
        let m = self.metrics
        var fields: [String: String] = [
            "status": change.to.rawValue,
            "previous_status": change.from.rawValue,
            "reason": change.reasons.joined(separator: "; "),
            "error_rate": String(format: "%.4f", m.errorRate),
            "samples": "\(m.samples)",
        ]
        if let capacity = m.capacity { fields["capacity"] = String(format: "%.4f", capacity) }
        if let p95 = m.latencyP95Ms { fields["latency_p95_ms"] = String(format: "%.1f", p95) }
        return Event(
            time: now, kind: .statusChanged, region: self.config.id,
            message: "region \(self.config.id) is \(change.to.rawValue) (was \(change.from.rawValue)): \(change.reasons.first ?? "")",
            fields: fields)
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

    public func report() -> RegionReport {
        Self.report(config: self.config, evaluator: self.evaluator, metrics: self.metrics, endpoints: self.endpoints, gate: self.gate)
    }

    private static func report(
        config: RegionConfig, evaluator: StatusEvaluator, metrics: RegionMetrics, endpoints runtimes: EndpointTable, gate: ScheduleGate
    ) -> RegionReport {
        let endpoints = config.endpoints.map { endpoint in
            let runtime = runtimes[endpoint.name]
            var report = EndpointReport(
                name: endpoint.name, kind: endpoint.check.kind, target: endpoint.check.target,
                intervalSeconds: endpoint.interval.seconds, timeoutSeconds: endpoint.timeout.seconds,
                probes: runtime?.probes ?? 0, consecutiveFailures: runtime?.consecutiveFailures ?? 0, last: runtime?.last)
            report.tally = runtime?.tally
            return report
        }
        let held = gate.held.map { ["status held while regiond is overloaded (\($0.reason)); see regionctl status"] } ?? []
        return RegionReport(
            brief: Self.brief(config: config, evaluator: evaluator, metrics: metrics), metrics: metrics, reasons: held + evaluator.reasons,
            pending: evaluator.pending, thresholds: ThresholdsReport(config.status), endpoints: endpoints)
    }
}

extension RegionMonitor: ProbeListener {
    // The loop calls these through the protocol, which reaches the generic code: without
    // the specialisation the whole per-probe path ran unspecialised (generic metadata
    // lookups, the clock through witness tables), 2% of the loop's CPU.

    /// A probe timer of this monitor fired; called by its loop.
    @_specialize(where C == ContinuousClock)
    public nonisolated func probeDue(_ tag: UInt64) {
        if tag & 0xFFFF_FFFF == Self.tickSlot {
            self.onOwnLoop { $0.tick(tag) }
        } else {
            self.onOwnLoop { $0.probe(tag) }
        }
    }

    /// A scheduled probe of this monitor ended; called on its loop.
    @_specialize(where C == ContinuousClock)
    public nonisolated func probeEnded(_ tag: UInt64, _ completion: ProbeCompletion) {
        self.onOwnLoop { $0.finished(tag, completion: completion) }
    }

    /// Runs `body` isolated to this monitor, as `assumeIsolated` does, without its check
    /// in release builds. Only the monitor's own loop calls ``probeDue(_:)`` and
    /// ``probeEnded(_:_:)`` (a ``ProbeLoop`` calls a listener on the loop it was set on,
    /// and the NIO path completes on `loop`), and that loop is this actor's executor, so
    /// the isolation holds. The check, which asks the runtime for the current executor
    /// through generic lookups twice per probe, was 4% of a probe loop's CPU. Debug builds,
    /// and so every test, still check.
    private nonisolated func onOwnLoop(_ body: (isolated RegionMonitor) -> Void) {
        assert(self.loop.inEventLoop, "a region monitor was called off its event loop")
        withoutActuallyEscaping(body) { body in
            unsafeBitCast(body, to: ((RegionMonitor) -> Void).self)(self)
        }
    }
}
