import Foundation
import Logging
import NIOPosix
import RegionCore
import ServiceLifecycle
import Synchronization

/// Owns the ``FailoverEngine``: feeds it signals, commands and the time, commits
/// each decision to the ``StateStore`` before anything acts on it, hands the plan
/// to the actuator, then publishes the decision's events.
///
/// Every input goes through one inbox consumed by one loop, so two decisions never
/// interleave across an `await` (the actor re-entrancy trap).
public actor FailoverController<C: Clock>: Service where C.Duration == Duration {
    enum Input: Sendable {
        case signal(String, RegionSignal)
        case command(OperatorCommand, uid: UInt32, reason: String, reply: CheckedContinuation<Result<TrafficReport, ControlError>, Never>)
        case reconfigure(FailoverSettings, [FailoverRegion], PlanTargets)
        case tick
        /// regiond is starved (true) or keeps its schedule again (false).
        case hold(Bool)
        /// The load balancers report no session left on a draining region.
        case drained(String)
        /// Signals have changed since the last decision (queued by the first of them).
        case signalsChanged
        /// Cluster mode: who decides (``ClusterMember`` sends it when leadership changes).
        case role(DecisionRole)
        /// Cluster mode: a decision another instance committed to etcd.
        case adopt(CommittedDecision)
    }

    /// Who makes decisions: this instance alone (no `[cluster]`), or the fleet's leader.
    public enum DecisionRole: Sendable, Equatable {
        case alone
        case leader
        case follower(leader: String?)
    }

    private var engine: FailoverEngine
    private var signals: [String: RegionSignal] = [:]
    private let store: (any DecisionStore)?
    private let bus: EventBus
    private let time: TimeBase<C>
    private let actuator: PlanActuator
    /// Where the plan is applied and whether the last attempt worked (no hop).
    public nonisolated var planTargets: [TrafficReport.Target] { self.actuator.appliedTo }
    /// What is wrong beyond region statuses, for `STATUS=` and `regionctl status` (no hop).
    public nonisolated var alarms: Alarms {
        var alarms = self.published.withLock { $0 }
        alarms.targetsFailing = self.planTargets.filter { !$0.ok }.map(\.name)
        return alarms
    }
    private nonisolated let published = Mutex(Alarms())
    private let logger: Logger
    private let inbox: AsyncStream<Input>
    private let inboxContinuation: AsyncStream<Input>.Continuation
    /// False after a failed commit, until the next one succeeds.
    public private(set) var recording = true
    private var commits = 0
    private var restored = false
    /// While true (regiond starved), no automatic decision is made: signals are noted, deadlines wait.
    private var held = false
    /// A `signalsChanged` is queued: signals that arrive before it is handled share its decision.
    private var decisionQueued = false
    private let metrics: DaemonMetrics?
    /// Cluster mode: where a decision is committed first (etcd, fenced); nil when alone.
    private var fence: (any ClusterFence)?
    private var role = DecisionRole.alone
    /// The configured targets, and whether the `[hook]` runs only while this instance leads.
    private var targets: PlanTargets
    private var hookOnLeaderOnly = false
    /// The etcd revision of the committed state this instance runs on.
    private var adoptedRevision: Int64 = 0
    /// The last decision was refused by the fence (etcd slow, the lease just renewed):
    /// the timer asks again every second while this instance leads.
    private var fenceRefused = false

    public init(
        config: Config, store: (any DecisionStore)?, bus: EventBus, time: TimeBase<C>, actuator: PlanActuator, logger: Logger, metrics: DaemonMetrics? = nil
    ) {
        self.metrics = metrics
        self.engine = FailoverEngine(settings: config.failover, regions: config.failoverRegions)
        self.store = store
        self.bus = bus
        self.time = time
        self.actuator = actuator
        self.logger = logger
        (self.inbox, self.inboxContinuation) = AsyncStream.makeStream(of: Input.self)
        self.recording = store != nil
        self.published.withLock { $0.recording = store != nil }
        self.targets = config.planTargets
    }

    /// Cluster mode: commits go to `fence` first, and this instance follows until
    /// ``ClusterMember`` says it leads. Called before ``run()``.
    public func join(_ fence: any ClusterFence, hookOnLeaderOnly: Bool) async {
        self.fence = fence
        self.role = .follower(leader: nil)
        self.hookOnLeaderOnly = hookOnLeaderOnly
        if hookOnLeaderOnly { await self.actuator.configure(self.activeTargets) }
    }

    /// The targets the plan goes to in this role: a follower runs the `[hook]` only when
    /// `[cluster] hook = "every"`.
    private var activeTargets: PlanTargets {
        var targets = self.targets
        if self.hookOnLeaderOnly, case .follower = self.role { targets.hook = nil }
        return targets
    }

    /// Cluster mode: leadership changed. Queued behind any decision being adopted.
    public nonisolated func setRole(_ role: DecisionRole) {
        self.inboxContinuation.yield(.role(role))
    }

    /// Cluster mode: a decision committed by the leader (or found at start-up).
    public nonisolated func adopt(_ decision: CommittedDecision) {
        self.inboxContinuation.yield(.adopt(decision))
    }

    /// False while another instance decides for the fleet.
    private var decides: Bool {
        if case .follower = self.role { return false }
        return true
    }

    // MARK: inputs (callable from anywhere, never block)

    /// A region's latest evaluation. Monitors send only changes.
    public nonisolated func submit(region: String, signal: RegionSignal) {
        self.inboxContinuation.yield(.signal(region, signal))
    }

    /// Holds every automatic decision while regiond is starved; operator commands still run.
    public nonisolated func hold(_ held: Bool) {
        self.inboxContinuation.yield(.hold(held))
    }

    public nonisolated func reconfigure(_ config: Config) {
        self.inboxContinuation.yield(.reconfigure(config.failover, config.failoverRegions, config.planTargets))
    }

    /// Applies an operator command once it is committed; returns the resulting traffic report.
    public func command(_ command: OperatorCommand, uid: UInt32, reason: String) async -> Result<TrafficReport, ControlError> {
        await withCheckedContinuation { reply in
            self.inboxContinuation.yield(.command(command, uid: uid, reason: reason, reply: reply))
        }
    }

    // MARK: start-up

    /// Loads the committed state (plan, phases, deadlines) and re-applies the plan.
    /// Called before READY=1.
    public func restore() async {
        guard !self.restored else { return }
        self.restored = true
        if let store = self.store {
            do {
                if let state = try await store.loadEngineState() {
                    self.engine = FailoverEngine(settings: self.engine.settings, regions: self.engine.regions, state: state)
                    self.logger.notice(
                        "restored failover state",
                        metadata: ["REGIOND_PLAN": "\(self.planText)", "REGIOND_DATABASE": "\(store.path)"])
                }
                try await store.prune(maxAge: self.engine.settings.historyMaxAge, maxEvents: self.engine.settings.historyMaxEvents, now: self.time.now)
            } catch {
                self.setRecording(false)
                self.logger.error("cannot read the state database: \(error); starting from the configured baseline")
            }
        }
        await self.actuator.applyAndWait(self.engine.state.plan, order: self.engine.regions.map(\.id))
    }

    var planText: String { self.engine.state.plan.description(order: self.engine.regions.map(\.id)) }

    // MARK: the loop

    public func run() async throws {
        await self.restore()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.timer() }
            group.addTask { await self.drainWatch() }
            group.addTask {
                for await input in self.inbox.cancelOnGracefulShutdown() {
                    await self.handle(input)
                }
            }
            await group.next()
            group.cancelAll()
        }
        await self.actuator.stop()
        // Answer commands that will never be handled.
        self.inboxContinuation.finish()
        for await input in self.inbox {
            if case .command(_, _, _, let reply) = input { reply.resume(returning: .failure(ControlError(.busy, "regiond is stopping"))) }
        }
    }

    /// Wakes the loop when a deadline (gradual step, recovery window, cooldown, pin) is due.
    private func timer() async {
        while !Task.isCancelled {
            let now = self.time.now
            let next = self.engine.nextDeadline().map { min($0, now.addingTimeInterval(1)) } ?? now.addingTimeInterval(1)
            do {
                try await self.time.clock.sleep(for: .milliseconds(Int64(max(10, next.timeIntervalSince(now) * 1000))))
            } catch {
                return
            }
            if let due = self.engine.nextDeadline(), due <= self.time.now {
                self.inboxContinuation.yield(.tick)
            } else if !self.recording, self.store != nil {
                // A refused decision is retried until the database takes it.
                self.inboxContinuation.yield(.tick)
            } else if self.fenceRefused, self.decides {
                self.inboxContinuation.yield(.tick)
            }
        }
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
            let draining = self.engine.state.regions.filter { if case .draining = $0.value.phase { true } else { false } }.map(\.key).sorted()
            for region in draining {
                if case .open(0) = await self.actuator.sessions(on: region) {
                    self.inboxContinuation.yield(.drained(region))
                }
            }
        }
    }

    static var drainPoll: Duration { .milliseconds(250) }

    private func handle(_ input: Input) async {
        switch input {
        case .drained(let region):
            guard self.decides else { return }
            await self.decide { engine, now in engine.sessionsDrained(region, signals: self.signals, now: now) }
        case .signal(let region, let signal):
            guard self.signals[region] != signal else { return }
            self.signals[region] = signal
            // One engine round (over every region) for a burst of signals, not one each:
            // with 1,000 regions a round per signal cost a third of a core.
            guard !self.decisionQueued else { return }
            self.decisionQueued = true
            self.inboxContinuation.yield(.signalsChanged)
        case .signalsChanged:
            self.decisionQueued = false
            guard !self.held, self.decides else { return }
            await self.decide { engine, now in engine.step(self.signals, now: now) }
        case .tick:
            guard !self.held, self.decides else { return }
            await self.decide { engine, now in engine.step(self.signals, now: now) }
        case .hold(let held):
            self.held = held
            if !held, self.decides { await self.decide { engine, now in engine.step(self.signals, now: now) } }
        case .reconfigure(let settings, let regions, let targets):
            // New or changed targets ([[haproxy]], server names, [hook]) take the committed plan at once.
            self.targets = targets
            await self.actuator.configure(self.activeTargets)
            self.engine.reconfigure(settings: settings, regions: regions)
            self.signals = self.signals.filter { id, _ in regions.contains { $0.id == id } }
            guard self.decides else { return }
            await self.decide { engine, now in engine.step(self.signals, now: now) }
        case .role(let role):
            await self.changeRole(to: role)
        case .adopt(let decision):
            await self.adopt(committed: decision)
        case .command(let command, let uid, let reason, let reply):
            if case .follower(let leader) = self.role {
                let where_ = leader.map { "the leader is \($0): run the command against its regiond" } ?? "no leader is elected yet: try again in a few seconds"
                reply.resume(returning: .failure(ControlError(.notLeader, "this regiond follows the cluster's leader and makes no decision; \(where_)")))
                return
            }
            var failure: ControlError?
            let committed = await self.decide(operator: true) { engine, now in
                do {
                    return try engine.apply(command, by: uid, reason: reason, signals: self.signals, now: now)
                } catch {
                    failure = (error as? ControlError) ?? ControlError(.internal, "\(error)")
                    return nil
                }
            }
            if let failure {
                reply.resume(returning: .failure(failure))
            } else if !committed {
                reply.resume(returning: .failure(ControlError(.internal, "the decision could not be recorded in the state database, so it was not applied")))
            } else {
                reply.resume(returning: .success(self.trafficReport()))
            }
        }
    }

    /// Runs one engine call, commits its result, then publishes and acts. Returns false
    /// when the decision was refused because it could not be recorded.
    ///
    /// The engine call runs on a copy; the copy becomes the controller's engine only once
    /// its state is committed. While the commit is in flight (an `await`), `traffic` and
    /// `phases` still read the last committed state, so nobody ever sees a plan that is
    /// then rolled back.
    @discardableResult
    private func decide(operator: Bool = false, _ body: (inout FailoverEngine, Date) -> Decision?) async -> Bool {
        let now = self.time.now
        var next = self.engine
        guard let decision = body(&next, now) else { return true }
        if next.state == self.engine.state && decision.events.isEmpty {
            self.engine = next  // nothing to record (the engine may only have warmed up)
            return true
        }
        var events = decision.events
        if let fence = self.fence {
            // Cluster mode: etcd first, fenced by the election key. A decision etcd refused
            // was never made: nothing acts on it, and the leader steps down (ClusterMember).
            do {
                let revision = try await fence.commit(state: next.state, events: decision.events, now: now)
                self.fenceRefused = false
                self.adoptedRevision = revision
                // Numbered as every follower numbers them (CommittedDecision.stampedEvents).
                events = CommittedDecision(state: next.state, events: events, leader: fence.observerName, revision: revision).stampedEvents
            } catch {
                self.fenceRefused = true
                self.logger.warning("decision not committed to etcd, so not applied: \(error)", metadata: ["REGIOND_REFUSED": "\(decision.events.map(\.kind.rawValue).joined(separator: ","))"])
                return false
            }
        }
        do {
            // No database at all (it could not be opened) is treated like a failed write.
            guard let store = self.store else { throw StateStore.Error(description: "the state database could not be opened") }
            let started = ContinuousClock.now
            events = try await store.commit(state: next.state, events: events, now: now)
            self.metrics?.committed(in: ContinuousClock.now - started)
            self.engine = next
            self.setRecording(true)
            self.commits += 1
            if self.commits % 500 == 0 {
                _ = try? await store.prune(maxAge: next.settings.historyMaxAge, maxEvents: next.settings.historyMaxEvents, now: now)
            }
        } catch {
            let wasRecording = self.recording
            self.setRecording(false)
            // In cluster mode etcd already holds the decision and every follower applies it:
            // refusing it here would leave this leader behind the fleet, and it would decide
            // the same again. The local history is the copy that failed, not the record.
            if next.settings.refuseUnrecorded || `operator`, self.fence == nil {
                if wasRecording || `operator` {
                    await self.bus.publish(
                        Event(
                            time: now, kind: .historyUnavailable,
                            message: "cannot write the state database (\(error)); refusing decisions that cannot be recorded, traffic stays as it is",
                            fields: ["error": "\(error)", "refused": decision.events.map(\.kind.rawValue).joined(separator: ",")]))
                }
                return false
            }
            self.engine = next
            if wasRecording {
                await self.bus.publish(
                    Event(
                        time: now, kind: .historyUnavailable,
                        message: self.fence == nil
                            ? "cannot write the state database (\(error)); acting on decisions anyway (refuse_unrecorded = false)"
                            : "cannot write the local state database (\(error)); decisions are committed to etcd and applied, the local history misses them",
                        fields: ["error": "\(error)"]))
            }
        }
        self.publishAlarms()
        // Commit, then hand the plan to the targets (each applies it on its own and says so
        // with plan_applied), then report the decision.
        if decision.planChanged {
            await self.actuator.apply(self.engine.state.plan, order: self.engine.regions.map(\.id))
        }
        for event in events { await self.bus.publish(event) }
        return true
    }

    // MARK: cluster mode

    private func changeRole(to role: DecisionRole) async {
        guard role != self.role else { return }
        let wasLeading = self.role == .leader
        self.role = role
        if self.hookOnLeaderOnly, wasLeading != (role == .leader) {
            await self.actuator.configure(self.activeTargets)
        }
        // A new leader decides at once on the fleet's signals and the state it adopted.
        if role == .leader, !self.held { await self.decide { engine, now in engine.step(self.signals, now: now) } }
    }

    /// Runs on a decision the leader committed: records its events in the local history,
    /// applies its plan, and reports them, as if this instance had decided.
    private func adopt(committed: CommittedDecision) async {
        guard committed.revision > self.adoptedRevision else { return }
        self.adoptedRevision = committed.revision
        let planChanged = committed.state.plan != self.engine.state.plan
        self.engine = FailoverEngine(settings: self.engine.settings, regions: self.engine.regions, state: committed.state)
        var events = committed.stampedEvents
        if let store = self.store {
            do {
                events = try await store.commit(state: committed.state, events: events, now: self.time.now)
                self.setRecording(true)
            } catch {
                self.setRecording(false)
                self.logger.error("cannot record the committed decision at revision \(committed.revision) in the local history: \(error)")
            }
        }
        self.publishAlarms()
        if planChanged { await self.actuator.apply(self.engine.state.plan, order: self.engine.regions.map(\.id)) }
        for event in events { await self.bus.publish(event) }
    }

    private func setRecording(_ recording: Bool) {
        guard recording != self.recording else { return }
        self.recording = recording
        if recording { self.logger.notice("the state database is writable again; decisions are recorded") }
        self.publishAlarms()
    }

    /// Refreshes what `alarms` reads without a hop.
    private func publishAlarms() {
        let panic = self.engine.state.panic
        let alarms = Alarms(recording: self.recording, panic: panic, stranded: panic ? self.engine.stranded(signals: self.signals) : [])
        self.published.withLock { $0 = alarms }
    }

    // MARK: reports

    public func trafficReport() -> TrafficReport {
        let state = self.engine.state
        let exclusions = self.engine.exclusions(signals: self.signals)
        let rows = self.engine.regions.map { region -> TrafficReport.Row in
            let rt = state.regions[region.id] ?? RegionRuntime()
            var row = TrafficReport.Row(
                region: region.id, weight: state.plan.weight(region.id), baseline: state.weightOverride?[region.id] ?? region.weight,
                share: rt.share, phase: rt.phase.name, admin: rt.admin.rawValue, priority: region.priority)
            row.cooldownUntil = rt.cooldownUntil
            row.status = self.signals[region.id]?.status
            row.note = rt.alert?.note
            row.strategy = self.engine.strategy(of: region.id).rawValue
            row.allowedTargets = region.allowedTargets
            row.residencyOverride = rt.residencyOverride
            row.lag = self.signals[region.id]?.lag
            row.excluded = exclusions[region.id]
            switch rt.phase {
            case .failingOver(let trigger, let since, let next):
                row.trigger = trigger.rawValue
                row.since = since
                row.nextStep = next
            case .failedOver(let trigger, let since):
                row.trigger = trigger.rawValue
                row.since = since
            case .draining(let trigger, let since, let until):
                row.trigger = trigger.rawValue
                row.since = since
                row.drainUntil = until
            case .recovering(let since, let until):
                row.since = since
                row.recoveryEnds = until
            case .awaitingFailback(let since):
                row.since = since
            case .failingBack(let next):
                row.nextStep = next
            case .serving:
                break
            }
            return row
        }
        var report = TrafficReport(
            total: state.plan.total, strategy: self.engine.settings.strategy.rawValue, failback: self.engine.settings.failback.rawValue,
            regions: rows, pin: state.pin.map { TrafficReport.PinInfo(reason: $0.reason, uid: $0.by, since: $0.since, until: $0.until) },
            panic: state.panic, recording: self.recording)
        report.targets = self.actuator.appliedTo
        return report
    }

    /// The engine phase of each region, for the `recovering` status.
    public func phases() -> [String: RegionPhase] {
        self.engine.state.regions.mapValues(\.phase)
    }

    /// `best`: where new traffic should go now.
    public func best() -> BestReport {
        self.engine.best(signals: self.signals)
    }

    /// What `simulate` starts from: the committed engine (state, settings, regions) and the
    /// latest signals. Values: the simulation runs on them without touching the controller.
    public func snapshot() -> (engine: FailoverEngine, signals: [String: RegionSignal]) {
        (self.engine, self.signals)
    }

    public var settings: FailoverSettings { self.engine.settings }
}
