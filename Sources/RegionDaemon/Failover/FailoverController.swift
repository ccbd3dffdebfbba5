import Foundation
import Logging
import NIOPosix
import RegionCore
import ServiceLifecycle
import Synchronization

/// Carries out what the ``DecisionMaker`` decides: every input goes through one inbox
/// consumed by one loop, which hands it to the machine and performs the actions it returns,
/// in order (commit to etcd, record in the history, apply, reply, arm the timer). The
/// answer to a commit goes back to the machine before the next input, so two decisions
/// never interleave across an `await`. All the rules are the machine's; this actor only
/// does the I/O.
public actor FailoverController<C: Clock>: Service where C.Duration == Duration {
    private var machine: DecisionMaker
    private let history: (any EventHistory)?
    private let bus: EventBus
    private let time: TimeBase<C>
    private let actuator: PlanActuator
    private let logger: Logger
    private let metrics: DaemonMetrics?
    /// Cluster mode: where a decision is committed first (etcd, fenced); nil when alone.
    private var fence: (any ClusterFence)?
    private let inbox: AsyncStream<DecisionInput>
    private let inboxContinuation: AsyncStream<DecisionInput>.Continuation
    private var replies: [UInt64: CheckedContinuation<Result<TrafficReport, ControlError>, Never>] = [:]
    private var nextRequest: UInt64 = 1
    /// Commands a follower forwarded: the leader answers them in the commit of their decision.
    private var forwarded: [UInt64: ForwardedKey] = [:]
    /// Callers waiting until a revision is recorded here (a forwarded command's reply).
    private var revisionWaiters: [UInt64: (revision: Int64, reply: CheckedContinuation<Bool, Never>)] = [:]
    private var restored = false
    private var loggedUnrecorded = false
    private let timer: DeadlineTimer<C>
    /// Where the plan is applied and whether the last attempt worked (no hop).
    public nonisolated var planTargets: [TrafficReport.Target] { self.actuator.appliedTo }
    /// What is wrong beyond region statuses, for `STATUS=` and `regionctl status` (no hop).
    public nonisolated var alarms: Alarms {
        let shown = self.shown.withLock { $0 }
        let panic = shown.engine.state.panic
        var alarms = Alarms(
            recording: shown.recording, panic: panic, stranded: panic ? shown.engine.stranded(signals: shown.signals) : [],
            targetsFailing: self.planTargets.filter { !$0.ok }.map(\.name))
        alarms.suspect = shown.suspicion?.suspect
        return alarms
    }
    /// What readers see (`traffic`, `status`, the page): the committed engine and the
    /// latest signals. A committed decision shows here before its events reach any sink,
    /// so whoever sees an event and then asks `traffic` sees its plan.
    private nonisolated let shown: Mutex<Shown>

    struct Shown: Sendable {
        var engine: FailoverEngine
        var signals: [String: RegionSignal]
        var recording: Bool
        /// Alone: whether this instance suspects its own network.
        var suspicion: SelfSuspicion? = nil
    }

    public init(
        config: Config, history: (any EventHistory)?, bus: EventBus, time: TimeBase<C>, actuator: PlanActuator, logger: Logger, metrics: DaemonMetrics? = nil
    ) {
        self.metrics = metrics
        self.machine = DecisionMaker(
            engine: FailoverEngine(settings: config.failover, regions: config.failoverRegions), targets: config.planTargets, recording: history != nil)
        self.history = history
        self.shown = Mutex(Shown(engine: self.machine.engine, signals: [:], recording: history != nil))
        self.bus = bus
        self.time = time
        self.actuator = actuator
        self.logger = logger
        (self.inbox, self.inboxContinuation) = AsyncStream.makeStream(of: DecisionInput.self)
        self.timer = DeadlineTimer(time: time)
        bus.setRetention(HistoryRetention(config.failover))
    }

    /// Cluster mode: commits go to `fence` first, and this instance follows until
    /// ``ClusterMember`` says it leads. Called before ``run()``.
    public func join(_ fence: any ClusterFence, hookOnLeaderOnly: Bool) async {
        self.fence = fence
        self.machine = DecisionMaker(
            engine: self.machine.engine, targets: self.machine.targets, recording: self.machine.recording,
            cluster: (observer: fence.observerName, hookOnLeaderOnly: hookOnLeaderOnly))
        if hookOnLeaderOnly { await self.actuator.configure(self.machine.activeTargets) }
        self.show()
    }

    /// Readers see the machine as it is now.
    private func show() {
        let shown = Shown(engine: self.machine.engine, signals: self.machine.signals, recording: self.machine.recording, suspicion: self.machine.suspicion)
        self.shown.withLock { $0 = shown }
        if !self.revisionWaiters.isEmpty {
            let recorded = self.machine.recordedRevision
            for (token, waiter) in self.revisionWaiters where waiter.revision <= recorded {
                self.revisionWaiters[token] = nil
                waiter.reply.resume(returning: true)
            }
        }
    }

    // MARK: inputs (callable from anywhere, never block)

    /// A region's latest evaluation (the fleet's in cluster mode). Monitors send only changes.
    public nonisolated func submit(region: String, signal: RegionSignal) {
        self.inboxContinuation.yield(.signal(region, signal))
    }

    /// Holds every automatic decision while regiond is starved; operator commands still run.
    public nonisolated func hold(_ held: Bool) {
        self.inboxContinuation.yield(.hold(held))
    }

    public nonisolated func reconfigure(_ config: Config) {
        self.inboxContinuation.yield(.reconfigure(config.failover, config.failoverRegions, config.planTargets))
        self.bus.setRetention(HistoryRetention(config.failover))
    }

    /// Cluster mode: leadership changed.
    public nonisolated func setRole(_ role: DecisionRole) {
        self.inboxContinuation.yield(.role(role))
    }

    /// Cluster mode: the etcd session is live (sent after `etcd_reachable` is published), or not.
    public nonisolated func setSession(live: Bool) {
        self.inboxContinuation.yield(.session(live: live))
    }

    /// Cluster mode: a decision committed to etcd (found by the watch, or at start-up).
    public nonisolated func adopt(_ decision: CommittedDecision) {
        self.inboxContinuation.yield(.adopt(decision))
    }

    /// Applies an operator command once it is committed; returns the resulting traffic report.
    /// `forwarded`: a follower's command, answered under the fence in the commit of its decision.
    public func command(_ command: OperatorCommand, uid: UInt32, reason: String, forwarded: ForwardedKey? = nil) async -> Result<TrafficReport, ControlError> {
        let id = self.nextRequest
        self.nextRequest += 1
        if let forwarded { self.forwarded[id] = forwarded }
        defer { self.forwarded[id] = nil }
        return await withCheckedContinuation { reply in
            self.replies[id] = reply
            self.inboxContinuation.yield(.command(OperatorRequest(id: id, command: command, uid: uid, reason: reason)))
        }
    }

    /// Waits until the decision committed at `revision` is recorded here (or `limit` passed);
    /// true when it is.
    public func recorded(revision: Int64, within limit: Duration) async -> Bool {
        if self.machine.recordedRevision >= revision { return true }
        let token = self.nextRequest
        self.nextRequest += 1
        let clock = self.time.clock
        // Bounds the wait; owned by this call and cancelled when it returns.
        let deadline = Task { [weak self] in
            try? await clock.sleep(for: limit)
            await self?.expireWaiter(token)
        }
        defer { deadline.cancel() }
        return await withCheckedContinuation { reply in self.revisionWaiters[token] = (revision, reply) }
    }

    private func expireWaiter(_ token: UInt64) {
        guard let waiter = self.revisionWaiters.removeValue(forKey: token) else { return }
        waiter.reply.resume(returning: self.machine.recordedRevision >= waiter.revision)
    }

    // MARK: start-up

    /// Loads the committed state (plan, phases, deadlines) and re-applies the plan.
    /// Called before READY=1.
    public func restore() async {
        guard !self.restored else { return }
        self.restored = true
        if let history = self.history {
            do {
                let stored = try await history.restore()
                self.machine.restore(state: stored.engine, recordedRevision: stored.lastRevision)
                self.show()
                if stored.engine != nil {
                    self.logger.notice(
                        "restored failover state", metadata: ["REGIOND_PLAN": "\(self.planText)", "REGIOND_DATABASE": "\(history.path)"])
                }
            } catch {
                self.machine.historyUnreadable()
                self.show()
                self.logger.error("cannot read the state database: \(error); starting from the configured baseline")
            }
        }
        await self.actuator.applyAndWait(self.machine.engine.state.plan, order: self.order)
    }

    var order: [String] { self.machine.engine.regions.map(\.id) }
    var planText: String { self.machine.engine.state.plan.description(order: self.order) }

    // MARK: the loop

    public func run() async throws {
        await self.restore()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.drainWatch() }
            group.addTask {
                for await input in self.inbox.cancelOnGracefulShutdown() {
                    await self.handle(input)
                }
            }
            await group.next()
            group.cancelAll()
        }
        self.timer.cancel()
        await self.actuator.stop()
        // Answer commands that will never be handled.
        self.inboxContinuation.finish()
        for await _ in self.inbox {}
        for reply in self.replies.values { reply.resume(returning: .failure(ControlError(.busy, "regiond is stopping"))) }
        self.replies.removeAll()
        for waiter in self.revisionWaiters.values { waiter.reply.resume(returning: false) }
        self.revisionWaiters.removeAll()
    }

    /// Hands one input to the machine and carries out its actions; the answer to a commit
    /// is handed back before anything else.
    private func handle(_ input: DecisionInput) async {
        var inputs = [input]
        while !inputs.isEmpty {
            let actions = self.machine.handle(inputs.removeFirst(), now: self.time.now)
            self.show()
            for action in actions {
                if let answer = await self.perform(action) { inputs.append(answer) }
            }
        }
    }

    /// Carries out one action; returns the answer the machine waits for, if any.
    private func perform(_ action: DecisionAction) async -> DecisionInput? {
        switch action {
        case .queueRound:
            self.inboxContinuation.yield(.round)
        case .commitFenced(let state, let events):
            guard let fence = self.fence else { return .fenced(.refused("no cluster to commit to")) }
            do {
                let answering = self.machine.fencingCommand.flatMap { self.forwarded[$0] }
                return .fenced(.committed(revision: try await fence.commit(state: state, events: events, answering: answering, now: self.time.now)))
            } catch {
                self.logger.warning("decision not committed to etcd, so not applied: \(error)", metadata: ["REGIOND_REFUSED": "\(events.map(\.kind.rawValue).joined(separator: ","))"])
                return .fenced(.refused("\(error)"))
            }
        case .record(let record):
            let started = ContinuousClock.now
            let outcome = await self.bus.commit(record) { [self] in
                guard let state = record.state else { return }
                self.shown.withLock {
                    $0.engine = FailoverEngine(settings: $0.engine.settings, regions: $0.engine.regions, state: state)
                    $0.recording = true
                }
            }
            if case .recorded = outcome { self.metrics?.committed(in: ContinuousClock.now - started) }
            if case .failed(let error) = outcome, record.revision != nil {
                self.logger.error("cannot record the decision committed at revision \(record.revision ?? 0) in the local history: \(error)")
            }
            return .recorded(outcome)
        case .publish(let events):
            await self.bus.publish(events)
        case .apply(let plan):
            await self.actuator.apply(plan, order: self.order)
        case .configure(let targets):
            await self.actuator.configure(targets)
        case .reply(let id, let reply):
            switch reply {
            case .done: self.replies.removeValue(forKey: id)?.resume(returning: .success(self.trafficReport()))
            case .refused(let error): self.replies.removeValue(forKey: id)?.resume(returning: .failure(error))
            }
        case .wake(let at):
            self.timer.arm(at: at) { [inbox = self.inboxContinuation] in inbox.yield(.tick) }
        case .alarms(let alarms):
            // Readers derive the alarms from what is shown; this is news for the log only.
            if alarms.recording, self.loggedUnrecorded {
                self.logger.notice("the state database is writable again; decisions are recorded")
            }
            self.loggedUnrecorded = !alarms.recording
        }
        return nil
    }


    /// The graceful strategy: while a region drains, asks the load balancers every
    /// `drainPoll` how many sessions it still has, and completes the move at zero.
    private func drainWatch() async {
        while !Task.isCancelled {
            do {
                try await self.time.clock.sleep(for: Self.drainPoll)
            } catch {
                return
            }
            for region in self.machine.draining {
                if case .open(0) = await self.actuator.sessions(on: region) {
                    self.inboxContinuation.yield(.drained(region))
                }
            }
        }
    }

    static var drainPoll: Duration { .milliseconds(250) }

    // MARK: reports

    /// False after a failed commit, until the next one succeeds.
    public nonisolated var recording: Bool { self.shown.withLock { $0.recording } }

    public nonisolated func trafficReport() -> TrafficReport {
        let shown = self.shown.withLock { $0 }
        return TrafficReport(engine: shown.engine, signals: shown.signals, recording: shown.recording, targets: self.actuator.appliedTo)
    }

    /// The engine phase of each region, for the `recovering` status.
    public nonisolated func phases() -> [String: RegionPhase] {
        self.shown.withLock { $0.engine.state.regions.mapValues(\.phase) }
    }

    /// `best`: where new traffic should go now.
    public nonisolated func best() -> BestReport {
        let shown = self.shown.withLock { $0 }
        return shown.engine.best(signals: shown.signals)
    }

    /// What `simulate` starts from: the committed engine (state, settings, regions) and the
    /// latest signals. Values: the simulation runs on them without touching the controller.
    public nonisolated func snapshot() -> (engine: FailoverEngine, signals: [String: RegionSignal], suspicion: SelfSuspicion?) {
        let shown = self.shown.withLock { $0 }
        return (shown.engine, shown.signals, shown.suspicion)
    }

    /// Why no automatic decision is made now, if none is.
    public var standstill: Standstill? { self.machine.standstill }

    public var settings: FailoverSettings { self.machine.engine.settings }
}
