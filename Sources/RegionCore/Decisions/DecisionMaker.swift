import FoundationEssentials

/// The decision path as one I/O-free state machine: every rule about *when* a decision is
/// made, committed, recorded, applied and answered, around the ``FailoverEngine`` that
/// says *what* it is.
///
/// `handle(input, now)` takes one ``DecisionInput`` and returns the ``DecisionAction``s
/// the shell (`FailoverController`) carries out in order; the answer to a commit comes
/// back as an input. Nothing here reads a clock or does I/O, so every interleaving of
/// inputs can be fed to it in a test.
///
/// Rules:
/// - **Commit, then act.** A decision runs on a copy of the engine; the copy is the
///   engine only once committed (etcd first in cluster mode, then the history), so no
///   reader ever sees a decision that is then refused. Its events reach every sink
///   before its plan is applied.
/// - **One decision at a time.** While one is being committed, commands, adoptions and
///   reloads wait their turn; signals and ticks are noted and a round follows it.
/// - **No automatic decision on what is not known** (``standstill``): not while regiond is
///   starved, not while a lone instance suspects its own network (``SelfSuspicion``), not
///   as a follower, not as a leader whose etcd session is not live, and not while an
///   enabled region has no known status. Operator commands still run.
/// - **Refusals.** A decision the history cannot take is refused when
///   `refuse_unrecorded` is set or an operator asked for it (alone); in cluster mode etcd
///   already holds it, so it is acted on. A refused automatic decision is retried every
///   second.
/// - **Adoption.** A decision committed by another leader is recorded once per etcd
///   revision, in revision order, and its plan applied.
public struct DecisionMaker: Sendable {
    public internal(set) var engine: FailoverEngine
    /// The latest signal of every region: this instance's own, or the fleet's.
    public internal(set) var signals: [String: RegionSignal] = [:]
    public internal(set) var role: DecisionRole
    /// Cluster mode: the etcd session is live. Always true alone.
    public internal(set) var sessionLive: Bool
    /// regiond is starved: no automatic decision.
    public internal(set) var held = false
    /// Alone: whether this instance suspects its own network (nil in cluster mode, where
    /// the quorum of observers does that job).
    public internal(set) var suspicion: SelfSuspicion?
    /// False after the history failed to take a decision, until it takes one again.
    public internal(set) var recording: Bool
    public internal(set) var stage: Stage = .ready(retryAt: nil)
    /// Cluster mode: the newest etcd revision recorded here.
    public internal(set) var recordedRevision: Int64 = 0
    /// The targets configured (the `[hook]` is left out while following, unless `hook = "every"`).
    public internal(set) var targets: PlanTargets
    /// Cluster mode: this observer's name, stamped on what it commits.
    let observer: String?
    let hookOnLeaderOnly: Bool
    var roundQueued = false
    /// A round was asked for while a decision was being committed.
    var roundWanted = false
    /// Inputs that need the decision path idle (commands, adoptions, reloads), in order.
    var deferred: [DecisionInput] = []
    var announcedWake: Date?? = .none
    var announcedAlarms: Alarms?

    /// Where the commit cycle is.
    public enum Stage: Sendable {
        /// Nothing in flight; a refused decision is retried at `retryAt`.
        case ready(retryAt: Date?)
        /// Cluster mode: the decision is on its way to etcd.
        case fencing(Pending)
        /// The decision is on its way to the history.
        case recording(Pending)
    }

    /// A decision made but not yet committed.
    public struct Pending: Sendable {
        /// The engine as it is once this decision is committed.
        var engine: FailoverEngine
        var events: [Event]
        var planChanged: Bool
        var origin: Origin
        var revision: Int64?
        /// A confirmation: the self-suspicion as it is once this is recorded.
        var suspicion: SelfSuspicion?
    }

    /// What a decision answers to.
    enum Origin: Sendable, Equatable {
        case automatic
        case command(UInt64)
        /// Committed to etcd by a leader (maybe another), at this revision.
        case adopted(Int64)
    }

    /// - Parameters:
    ///   - cluster: nil alone; else this observer's name and whether the `[hook]` runs
    ///     only while it leads.
    public init(engine: FailoverEngine, targets: PlanTargets, recording: Bool, cluster: (observer: String, hookOnLeaderOnly: Bool)? = nil) {
        self.engine = engine
        self.targets = targets
        self.recording = recording
        self.observer = cluster?.observer
        self.hookOnLeaderOnly = cluster?.hookOnLeaderOnly ?? false
        self.role = cluster == nil ? .alone : .follower(leader: nil)
        self.sessionLive = cluster == nil
        if cluster == nil { self.suspicion = SelfSuspicion(fraction: engine.settings.suspectFraction, window: engine.settings.suspectWindow) }
    }

    /// Takes what the last run recorded (before the first input).
    public mutating func restore(state: EngineState?, recordedRevision: Int64) {
        if let state { self.engine = FailoverEngine(settings: self.engine.settings, regions: self.engine.regions, state: state) }
        self.recordedRevision = recordedRevision
    }

    /// The history could not be read at start: decisions start from the configured
    /// baseline, and count as unrecorded until a commit goes through.
    public mutating func historyUnreadable() {
        self.recording = false
    }

    /// Why no automatic decision is made now; nil when one may be.
    public var standstill: Standstill? {
        if self.held { return .held }
        if let suspect = self.suspicion?.suspect { return .suspect(suspect) }
        switch self.role {
        case .follower(let leader): return .following(leader: leader)
        case .leader where !self.sessionLive: return .noSession
        case .alone, .leader: break
        }
        let unknown = self.engine.regions.filter { region in
            self.engine.state.regions[region.id]?.admin != .disabled && (self.signals[region.id]?.status ?? .unknown) == .unknown
        }
        return unknown.isEmpty ? nil : .unknown(unknown.map(\.id))
    }

    /// The operator's command whose decision is being committed to etcd, if one is.
    public var fencingCommand: UInt64? {
        if case .fencing(let pending) = self.stage, case .command(let id) = pending.origin { return id }
        return nil
    }

    public var isIdle: Bool {
        if case .ready = self.stage { return true }
        return false
    }

    /// The targets the plan goes to in this role: a follower runs the `[hook]` only when
    /// `[cluster] hook = "every"`.
    public var activeTargets: PlanTargets {
        var targets = self.targets
        if self.hookOnLeaderOnly, self.role != .leader { targets.hook = nil }
        return targets
    }

    /// Regions whose traffic the graceful strategy is draining (the shell asks the load
    /// balancers about their sessions).
    public var draining: [String] {
        self.engine.state.regions.filter { if case .draining = $0.value.phase { true } else { false } }.map(\.key).sorted()
    }

    // MARK: one input

    public mutating func handle(_ input: DecisionInput, now: Date) -> [DecisionAction] {
        let actions = self.take(input, now: now)
        // The alarms first: `STATUS=` is rewritten on each event and must read the new ones.
        let announced = self.announce(now: now)
        return announced.filter { if case .alarms = $0 { true } else { false } } + actions + announced.filter { if case .alarms = $0 { false } else { true } }
    }

    mutating func take(_ input: DecisionInput, now: Date) -> [DecisionAction] {
        switch input {
        case .signal(let region, let signal):
            guard self.signals[region] != signal else { return [] }
            self.signals[region] = signal
            // One round (over every region) for a burst of signals, not one each: with
            // 1,000 regions a round per signal cost a third of a core.
            guard !self.roundQueued else { return [] }
            self.roundQueued = true
            return [.queueRound]
        case .round:
            self.roundQueued = false
            return self.automaticRound(now)
        case .tick:
            return self.automaticRound(now)
        case .hold(let held):
            self.held = held
            return held ? [] : self.automaticRound(now)
        case .drained(let region):
            return self.automatic(now) { engine, signals in engine.sessionsDrained(region, signals: signals, now: now) }
        case .session(let live):
            self.sessionLive = live
            return live ? self.automaticRound(now) : []
        case .role(let role):
            return self.changeRole(to: role, now: now)
        case .fenced(let outcome):
            return self.fenced(outcome, now: now)
        case .recorded(let outcome):
            return self.recorded(outcome, now: now)
        case .reconfigure, .command, .adopt:
            guard self.isIdle else {
                self.deferred.append(input)
                return []
            }
            return self.takeWhileIdle(input, now: now)
        }
    }

    /// Inputs that need the decision path idle.
    mutating func takeWhileIdle(_ input: DecisionInput, now: Date) -> [DecisionAction] {
        switch input {
        case .reconfigure(let settings, let regions, let targets):
            self.engine.reconfigure(settings: settings, regions: regions)
            self.suspicion?.reconfigure(fraction: settings.suspectFraction, window: settings.suspectWindow)
            self.signals = self.signals.filter { id, _ in regions.contains { $0.id == id } }
            self.targets = targets
            // New or changed targets take the committed plan at once.
            return [.configure(self.activeTargets)] + self.automaticRound(now)
        case .command(let request):
            return self.command(request, now: now)
        case .adopt(let committed):
            return self.adopt(committed, now: now)
        default:
            return self.take(input, now: now)
        }
    }

    mutating func changeRole(to role: DecisionRole, now: Date) -> [DecisionAction] {
        guard role != self.role else { return [] }
        let wasLeading = self.role == .leader
        self.role = role
        var actions: [DecisionAction] = []
        if self.hookOnLeaderOnly, wasLeading != (role == .leader) { actions.append(.configure(self.activeTargets)) }
        // A new leader decides at once on the fleet's signals and the state it adopted.
        if role == .leader { actions += self.automaticRound(now) }
        return actions
    }

    // MARK: what the shell is told besides

    /// The alarms and the next wake-up, when they changed.
    mutating func announce(now: Date) -> [DecisionAction] {
        var actions: [DecisionAction] = []
        let panic = self.engine.state.panic
        var alarms = Alarms(recording: self.recording, panic: panic, stranded: panic ? self.engine.stranded(signals: self.signals) : [])
        alarms.suspect = self.suspicion?.suspect
        if alarms != self.announcedAlarms {
            self.announcedAlarms = alarms
            actions.append(.alarms(alarms))
        }
        let wake = self.nextWake(after: now)
        if self.announcedWake != .some(wake) {
            self.announcedWake = .some(wake)
            actions.append(.wake(at: wake))
        }
        return actions
    }

    /// When a tick is due: the engine's next deadline, or the retry of a refused decision.
    public func nextWake(after now: Date) -> Date? {
        guard case .ready(let retryAt) = self.stage else { return nil }
        let deadline: Date? = self.standstill == nil ? self.engine.nextDeadline(after: now) : nil
        switch (deadline, retryAt) {
        case (let a?, let b?): return min(a, b)
        case (let a?, nil): return a
        case (nil, let b?): return b
        case (nil, nil): return nil
        }
    }
}
