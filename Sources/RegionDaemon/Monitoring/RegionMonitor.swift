import Foundation
import RegionCore
import RegionProbes

/// Watches one region: runs a probe loop per endpoint, keeps the region's
/// sliding window, and evaluates its status on a fixed tick.
///
/// The actor owns the window, the evaluator and the probe tasks; nothing else
/// touches them. Probes run off the actor and hop back only to record a result.
public actor RegionMonitor<C: Clock> where C.Duration == Duration {
    struct EndpointRuntime {
        var config: EndpointConfig
        /// Bumped when the endpoint is replaced, so a late result of the old loop is ignored.
        var generation: Int
        var task: Task<Void, Never>?
        var last: ProbeResult?
        var probes: UInt64 = 0
        var consecutiveFailures = 0
    }

    public private(set) var config: RegionConfig
    private var window: RegionWindow
    private var evaluator: StatusEvaluator
    private var endpoints: [String: EndpointRuntime] = [:]
    private var evaluationTask: Task<Void, Never>?
    private var metrics: RegionMetrics
    private var generation = 0
    /// When the evaluation tick last ran (the supervisor's liveness check reads it).
    public private(set) var lastEvaluatedAt: C.Instant?

    let time: TimeBase<C>
    let prober: Prober
    let bus: EventBus
    let statistics: ProbeStatistics
    /// Where each evaluation's failover signal goes (the failover controller); sent on change only.
    let signals: @Sendable (String, RegionSignal) -> Void
    private var failover: FailoverSettings
    private var lastSignal: RegionSignal?

    public init(
        config: RegionConfig, failover: FailoverSettings = .init(), time: TimeBase<C>, prober: Prober, bus: EventBus, statistics: ProbeStatistics,
        signals: @escaping @Sendable (String, RegionSignal) -> Void = { _, _ in }
    ) {
        self.config = config
        self.failover = failover
        self.signals = signals
        self.window = RegionWindow(length: config.status.window)
        self.evaluator = StatusEvaluator(thresholds: config.status)
        self.time = time
        self.prober = prober
        self.bus = bus
        self.statistics = statistics
        self.metrics = .empty(windowSeconds: config.status.window.seconds)
    }

    public var status: RegionStatus { self.evaluator.status }

    /// Starts every probe loop and the evaluation tick.
    public func start() {
        for endpoint in self.config.endpoints { self.startEndpoint(endpoint) }
        self.startEvaluation()
    }

    /// Stops every loop and waits for them to end.
    public func stop() async {
        let tasks = self.endpoints.values.compactMap(\.task) + [self.evaluationTask].compactMap { $0 }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        self.evaluationTask = nil
        for key in self.endpoints.keys { self.endpoints[key]?.task = nil }
    }

    /// Applies a changed configuration of this region. Endpoints whose settings
    /// did not change keep their loops and their samples.
    public func update(_ new: RegionConfig, failover: FailoverSettings) {
        self.failover = failover
        self.update(new)
    }

    public func update(_ new: RegionConfig) {
        let oldNames = Set(self.endpoints.keys)
        let newNames = Set(new.endpoints.map(\.name))
        for name in oldNames.subtracting(newNames) {
            self.endpoints[name]?.task?.cancel()
            self.endpoints[name] = nil
        }
        for endpoint in new.endpoints {
            if let existing = self.endpoints[endpoint.name], existing.config.sameSettings(as: endpoint) { continue }
            self.endpoints[endpoint.name]?.task?.cancel()
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
    }

    // MARK: probing

    private func startEndpoint(_ endpoint: EndpointConfig) {
        self.generation += 1
        let generation = self.generation
        var runtime = self.endpoints[endpoint.name] ?? EndpointRuntime(config: endpoint, generation: generation)
        runtime.config = endpoint
        runtime.generation = generation
        runtime.task = Task { [time, prober] in
            await Self.probeLoop(endpoint: endpoint, time: time, prober: prober) { result in
                await self.record(result, generation: generation)
            }
        }
        self.endpoints[endpoint.name] = runtime
    }

    /// Probes `endpoint` every interval until cancelled. Never overlaps itself:
    /// the next probe is scheduled only after this one ended (which its timeout bounds).
    static func probeLoop(
        endpoint: EndpointConfig,
        time: TimeBase<C>,
        prober: Prober,
        record: @Sendable (ProbeResult) async -> Void
    ) async {
        let interval = endpoint.interval
        // Spread the first probes of all endpoints over one interval.
        var due = time.clock.now.advanced(by: interval * Double.random(in: 0..<1))
        let prepared = prober.prepare(endpoint)
        while !Task.isCancelled {
            do {
                try await time.clock.sleep(until: due, tolerance: nil)
            } catch {
                return
            }
            let start = time.clock.now
            let outcome = await prober.probe(prepared)
            let end = time.clock.now
            if Task.isCancelled { return }
            let result = ProbeResult(
                endpoint: endpoint.name,
                scheduledAt: time.date(due),
                finishedAt: time.date(end),
                latencyMs: start.duration(to: end).milliseconds,
                latenessMs: max(0, due.duration(to: start).milliseconds),
                failure: outcome.failure,
                detail: outcome.detail,
                capacity: outcome.capacity
            )
            await record(result)
            let spread = endpoint.jitter > 0 ? Double.random(in: -endpoint.jitter...endpoint.jitter) : 0
            due = due.advanced(by: interval * (1 + spread))
            // Slots missed while the process was stopped or overloaded are skipped, not replayed.
            if due < end { due = end }
        }
    }

    private func record(_ result: ProbeResult, generation: Int) {
        guard var runtime = self.endpoints[result.endpoint], runtime.generation == generation else { return }
        runtime.last = result
        runtime.probes += 1
        runtime.consecutiveFailures = result.passed ? 0 : runtime.consecutiveFailures + 1
        self.endpoints[result.endpoint] = runtime
        self.window.record(result)
        self.statistics.record(latenessMs: result.latenessMs)
    }

    // MARK: evaluation

    private func startEvaluation() {
        let interval = self.config.status.evaluationInterval
        self.evaluationTask = Task { [time] in
            var next = time.clock.now.advanced(by: interval)
            while !Task.isCancelled {
                do {
                    try await time.clock.sleep(until: next, tolerance: nil)
                } catch {
                    return
                }
                await self.evaluate()
                next = next.advanced(by: interval)
                let now = time.clock.now
                if next < now { next = now.advanced(by: interval) }
            }
        }
    }

    /// One evaluation round; publishes a `status_changed` event when the status moves.
    func evaluate() async {
        let instant = self.time.clock.now
        let now = self.time.date(instant)
        self.lastEvaluatedAt = instant
        self.metrics = self.window.metrics(now: now)
        let change = self.evaluator.evaluate(self.metrics, now: now)
        if let raw = self.evaluator.lastRaw {
            let signal = RegionSignal.from(
                status: self.evaluator.status, raw: raw, metrics: self.metrics, settings: self.failover,
                evaluationInterval: self.config.status.evaluationInterval, now: now)
            if signal != self.lastSignal {
                self.lastSignal = signal
                self.signals(self.config.id, signal)
            }
        }
        guard let change else { return }
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
        await self.bus.publish(
            Event(
                time: now, kind: .statusChanged, region: self.config.id,
                message: "region \(self.config.id) is \(change.to.rawValue) (was \(change.from.rawValue)): \(change.reasons.first ?? "")",
                fields: fields))
    }

    // MARK: reports

    public func brief() -> RegionBrief {
        RegionBrief(
            id: self.config.id, status: self.evaluator.status, since: self.evaluator.since,
            priority: self.config.priority, weight: self.config.weight, enabled: self.config.enabled,
            endpoints: self.config.endpoints.count, endpointsPassing: self.metrics.endpointsPassing,
            errorRate: self.metrics.errorRate, latencyP95Ms: self.metrics.latencyP95Ms, capacity: self.metrics.capacity,
            reason: self.evaluator.reasons.first ?? "")
    }

    public func report() -> RegionReport {
        let endpoints = self.config.endpoints.map { endpoint in
            let runtime = self.endpoints[endpoint.name]
            return EndpointReport(
                name: endpoint.name, kind: endpoint.check.kind, target: endpoint.check.target,
                intervalSeconds: endpoint.interval.seconds, timeoutSeconds: endpoint.timeout.seconds,
                probes: runtime?.probes ?? 0, consecutiveFailures: runtime?.consecutiveFailures ?? 0, last: runtime?.last)
        }
        return RegionReport(
            brief: self.brief(), metrics: self.metrics, reasons: self.evaluator.reasons, pending: self.evaluator.pending,
            thresholds: ThresholdsReport(self.config.status), endpoints: endpoints)
    }
}
