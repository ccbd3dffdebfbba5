import Foundation
import NIOCore
import RegionCore
import RegionProbes

/// A region monitor's probing: each endpoint's schedule, its probes, and the recording
/// of their results. On a ``ProbeLoop`` the monitor is the loop's ``ProbeListener``: a
/// probe's timer is an entry of the loop's and its end one call, both carrying the tag
/// that finds the endpoint in ``EndpointTable`` (docs/architecture.md, "Probes run on
/// probe loops").
extension RegionMonitor {
    func startEndpoint(_ endpoint: EndpointConfig) {
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
    static func deadline(_ uptime: Duration) -> NIODeadline {
        .uptimeNanoseconds(UInt64(max(0, uptime.components.seconds)) * 1_000_000_000 + UInt64(max(0, uptime.components.attoseconds / 1_000_000_000)))
    }

    /// Timers fire on a grid of this width, so that probes due close together share a wake-up.
    static var timerSlot: Duration { .milliseconds(10) }

    /// Sets the timer of the endpoint's next probe. The timer fires on this actor's loop:
    /// on a ``ProbeLoop`` as one of its listener timers, else as a NIO task.
    func schedule(_ tag: UInt64, due: Duration) {
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
    func probe(_ tag: UInt64) {
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

    func finished(_ tag: UInt64, completion: ProbeCompletion) {
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
        let spread = self.random.spread()
        let next = self.endpoints.update(slot) { $0.finished(with: result, counted: counted, end: end, spread: spread) }
        self.statistics.record(latenessMs: result.latenessMs, counted: counted)
        self.schedule(tag, due: next)
    }
}

extension RegionMonitor: ProbeListener {
    // The loop calls these through the protocol, which reaches the generic code: without
    // the specialisation the whole per-probe path ran unspecialised (generic metadata
    // lookups, the clock through witness tables), about 1.5% of the loop's profile.

    /// A probe timer of this monitor fired; called by its loop.
    @_specialize(where C == ContinuousClock)
    public nonisolated func probeDue(_ tag: UInt64) {
        self.assertOnOwnLoop()
        if tag & 0xFFFF_FFFF == Self.tickSlot {
            self.entries.tick(self, tag)
        } else {
            self.entries.probe(self, tag)
        }
    }

    /// A scheduled probe of this monitor ended; called on its loop.
    @_specialize(where C == ContinuousClock)
    public nonisolated func probeEnded(_ tag: UInt64, _ completion: ProbeCompletion) {
        self.assertOnOwnLoop()
        self.entries.finished(self, tag, completion)
    }

    /// How the listener methods enter the actor: as `assumeIsolated` does, without its
    /// check in release builds. Each is a function whose monitor parameter is `isolated`,
    /// cast to the same function type without the isolation (the same ABI). Only the
    /// monitor's own loop calls ``probeDue(_:)`` and ``probeEnded(_:_:)`` (a ``ProbeLoop``
    /// calls a listener on the loop it was set on, and the NIO path completes on `loop`),
    /// and that loop is this actor's executor, so the isolation holds. The check, which
    /// asks the runtime for the current executor through generic lookups twice per probe,
    /// was 4% of a probe loop's CPU. Made once per monitor: a closure handed to
    /// `withoutActuallyEscaping` per call, or a generic function value, cost one or two
    /// heap allocations per probe. Debug builds, and so every test, still check the loop.
    struct Entries: Sendable {
        let probe: @Sendable (RegionMonitor, UInt64) -> Void
        let tick: @Sendable (RegionMonitor, UInt64) -> Void
        let finished: @Sendable (RegionMonitor, UInt64, ProbeCompletion) -> Void

        init() {
            self.probe = unsafeBitCast(RegionMonitor.probeOnLoop as (isolated RegionMonitor, UInt64) -> Void, to: (@Sendable (RegionMonitor, UInt64) -> Void).self)
            self.tick = unsafeBitCast(RegionMonitor.tickOnLoop as (isolated RegionMonitor, UInt64) -> Void, to: (@Sendable (RegionMonitor, UInt64) -> Void).self)
            self.finished = unsafeBitCast(
                RegionMonitor.finishedOnLoop as (isolated RegionMonitor, UInt64, ProbeCompletion) -> Void,
                to: (@Sendable (RegionMonitor, UInt64, ProbeCompletion) -> Void).self)
        }
    }

    fileprivate static func probeOnLoop(_ monitor: isolated RegionMonitor, _ tag: UInt64) { monitor.probe(tag) }
    fileprivate static func tickOnLoop(_ monitor: isolated RegionMonitor, _ tag: UInt64) { monitor.tick(tag) }
    fileprivate static func finishedOnLoop(_ monitor: isolated RegionMonitor, _ tag: UInt64, _ completion: ProbeCompletion) {
        monitor.finished(tag, completion: completion)
    }

    private nonisolated func assertOnOwnLoop() {
        assert(self.loop.inEventLoop, "a region monitor was called off its event loop")
    }
}
