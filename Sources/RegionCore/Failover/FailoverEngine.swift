import FoundationEssentials

/// The failover state machine: where traffic goes, when it moves, and why.
///
/// Pure: `step`, `apply` and `sessionsDrained` take the signals or command and `now`,
/// change the state, and return a ``Decision``. Nothing here reads a clock or does I/O,
/// so cooldowns, the recovery window and gradual steps are tested by passing times.
///
/// Rules:
/// - A region fails over when its signal is `failing` (unhealthy, or degraded with a
///   trigger firing), unless its strategy is manual, a cooldown or pin blocks it, or no
///   region may take its share (then it is an alert and the plan stays).
/// - automatic and cascading move the whole share at once; gradual moves `gradualStep`
///   of it every `gradualInterval`, halting (or reversing) when no target is left;
///   graceful moves it at once and completes when the sessions have drained.
/// - A region that failed over and is healthy again is `recovering` for `recoveryWindow`;
///   any evaluation that is not healthy restarts the window. Then, unless the cooldown
///   (counted from when it lost its traffic) still runs, a pin is set, its replication lag
///   is too high, or failback is manual, traffic returns: at once, or step by step for the
///   gradual strategy.
/// - Where the traffic goes is ``PlanCalculator``'s: residency and the lag guard included.
///   If any traffic has nowhere to go, the last plan is kept and a panic alert raised.
/// - Each region may have its own strategy and cooldown (`[region.failover]`).
public struct FailoverEngine: Sendable {
    public private(set) var settings: FailoverSettings
    public private(set) var regions: [FailoverRegion]
    /// Where each region is in `regions` (looked up for every region in every round).
    private let index: [String: Int]
    public internal(set) var state: EngineState
    /// False until every enabled region has had a known status once since start. Until
    /// then no automatic decision is made: after a restart the restored plan stands
    /// while statuses are still `unknown`, rather than churning traffic.
    public internal(set) var warm = false

    public init(settings: FailoverSettings, regions: [FailoverRegion], state: EngineState? = nil) {
        self.settings = settings
        self.regions = regions
        self.index = Dictionary(regions.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        var restored = state ?? EngineState(regions: [:], plan: TrafficPlan(weights: [:], total: settings.total))
        for region in regions where restored.regions[region.id] == nil {
            var runtime = RegionRuntime()
            if !region.enabled { runtime.admin = .disabled }
            restored.regions[region.id] = runtime
        }
        let ids = Set(regions.map(\.id))
        restored.regions = restored.regions.filter { id, _ in ids.contains(id) }
        // What is read back from disk is checked like any outside input: a share is a
        // fraction of the baseline (0...1), an override a weight in range, a plan valid.
        for id in restored.regions.keys {
            let share = restored.regions[id]!.share
            restored.regions[id]!.share = share.isFinite ? min(1, max(0, share)) : 1
        }
        if let override = restored.weightOverride, override.values.contains(where: { !(0...FailoverRegion.maximumWeight).contains($0) }) {
            restored.weightOverride = nil
        }
        if restored.plan.total != settings.total || Set(restored.plan.weights.keys) != Set(regions.map(\.id)) || !restored.plan.isValid {
            restored.plan = Self.baselinePlan(regions, override: restored.weightOverride, total: settings.total)
        }
        self.state = restored
    }

    /// Applies a reloaded configuration, keeping what the engine knows of regions that stay.
    public mutating func reconfigure(settings: FailoverSettings, regions: [FailoverRegion]) {
        var state = self.state
        let warm = self.warm
        defer { self.warm = warm }
        for region in regions {
            if let old = self.regions.first(where: { $0.id == region.id }), old.enabled != region.enabled {
                state.regions[region.id]?.admin = region.enabled ? .enabled : .disabled
            }
        }
        self = FailoverEngine(settings: settings, regions: regions, state: state)
    }

    static func baselinePlan(_ regions: [FailoverRegion], override: [String: Int]?, total: Int) -> TrafficPlan {
        let shares = regions.map { ($0.id, $0.enabled ? Double(override?[$0.id] ?? $0.weight) : 0) }
        return TrafficPlan.apportion(shares, total: total)
    }

    // MARK: - Per-region settings

    func region(_ id: String) -> FailoverRegion? { self.index[id].map { self.regions[$0] } }

    /// The strategy moving `id` now: an operator's choice for this move, the region's own, or `[failover]`'s.
    public func strategy(of id: String) -> FailoverStrategy {
        self.state.regions[id]?.strategy ?? self.region(id)?.strategy ?? self.settings.strategy
    }

    func cooldown(of id: String) -> Duration {
        self.region(id)?.cooldown ?? self.settings.cooldown
    }

    /// How `id` gets its traffic back: the gradual strategy by its own step and interval,
    /// every other by the failback ramp (the region's own, or `[failover]`'s).
    func failbackSteps(of id: String) -> (step: Double, interval: Duration) {
        if self.strategy(of: id) == .gradual { return (self.settings.gradualStep, self.settings.gradualInterval) }
        let ramp = self.region(id)?.failbackRamp ?? self.settings.failbackRamp
        return (ramp.step, ramp.interval)
    }

    func calculator(_ signals: [String: RegionSignal]) -> PlanCalculator {
        PlanCalculator(regions: self.regions, state: self.state, signals: signals, total: self.settings.total, strategy: { self.strategy(of: $0) })
    }

    /// Where traffic would go now and every move it contains (for residency checks and `best`).
    public func flows(signals: [String: RegionSignal]) -> [(from: String, to: String, amount: Double)] {
        (self.calculator(signals).compute()?.flows ?? []).map { ($0.from, $0.to, $0.amount) }
    }

    /// Why each region that could take traffic cannot now (lag, not healthy, moving), for `traffic`.
    public func exclusions(signals: [String: RegionSignal]) -> [String: String] {
        let calculator = self.calculator(signals)
        var result: [String: String] = [:]
        for region in self.regions { result[region.id] = calculator.exclusion(region.id) }
        return result
    }

    /// Where a region's freed traffic goes now, and on which rung of the ladder.
    public struct Placement: Sendable, Equatable {
        public var targets: [String]
        public var rung: TargetRung
    }

    /// Every region that does not keep its whole share, and where the rest goes.
    public func placements(signals: [String: RegionSignal]) -> [String: Placement] {
        let calculator = self.calculator(signals)
        var result: [String: Placement] = [:]
        for region in self.regions where (self.state.regions[region.id]?.share ?? 1) < 1 || self.state.regions[region.id]?.admin == .disabled {
            if let chosen = calculator.chosenTarget(for: region) {
                result[region.id] = Placement(targets: [chosen], rung: .healthy)
            } else if let rung = calculator.rung(for: region) {
                result[region.id] = Placement(targets: calculator.targets(for: region).map(\.id), rung: rung)
            }
        }
        return result
    }

    /// Failing regions that keep their share only because nothing may take it.
    public func stranded(signals: [String: RegionSignal]) -> [String] {
        self.calculator(signals).stranded()
    }

    // MARK: - The next moment something is due

    /// The earliest time after `now` at which `step` may change something without a new
    /// signal. A deadline that has passed and changed nothing (a cooldown that ended while
    /// failback waits for an operator) is no longer due: it must not hide a later one.
    public func nextDeadline(after now: Date) -> Date? {
        self.deadlines.filter { $0 > now }.min()
    }

    /// The earliest deadline, passed or not.
    public func nextDeadline() -> Date? {
        self.deadlines.min()
    }

    var deadlines: [Date] {
        var dates: [Date] = []
        if let until = self.state.pin?.until { dates.append(until) }
        for (_, runtime) in self.state.regions {
            if let due = runtime.maintenance?.due { dates.append(due) }
            switch runtime.phase {
            case .failingOver(_, _, let next), .failingBack(let next): dates.append(next)
            case .draining(_, _, let until), .recovering(_, let until): dates.append(until)
            case .awaitingFailback: if let cooldown = runtime.cooldownUntil { dates.append(cooldown) }
            case .serving, .failedOver: break
            }
        }
        return dates
    }

    // MARK: - Automatic rules

    /// One round: feeds the latest signal of every region and the time.
    public mutating func step(_ signals: [String: RegionSignal], now: Date) -> Decision {
        if !self.warm {
            let known = self.regions.allSatisfy { region in
                self.state.regions[region.id]?.admin == .disabled || (signals[region.id].map { $0.status != .unknown } ?? false)
            }
            guard known else { return Decision(plan: self.state.plan, planChanged: false, events: []) }
            self.warm = true
        }
        var events: [Event] = []
        if let pin = self.state.pin, let until = pin.until, now >= until {
            self.state.pin = nil
            events.append(self.event(nil, "pin expired; automatic failover resumes", .pinExpired(Because(reason: pin.reason)), now))
        }
        self.runMaintenance(signals: signals, now: now, events: &events)
        self.cutRampsForStranded(signals: signals, now: now, events: &events)
        // Targets as the round starts. A region that fails over in this round was never a
        // target (failing means not healthy), so this view stays exact while regions advance.
        let targets = self.calculator(signals)
        for region in self.regions {
            let signal = signals[region.id] ?? RegionSignal(status: .unknown, passing: false)
            self.advance(region, signal: signal, targets: targets, now: now, events: &events)
        }
        return self.finish(signals: signals, now: now, events: events)
    }

    /// The load balancers report no session left on a draining region (graceful strategy):
    /// its move is complete.
    public mutating func sessionsDrained(_ id: String, signals: [String: RegionSignal], now: Date) -> Decision {
        guard let rt = self.state.regions[id], case .draining(let trigger, let since, _) = rt.phase else {
            return Decision(plan: self.state.plan, planChanged: false, events: [])
        }
        self.state.regions[id]!.phase = .failedOver(trigger: trigger, since: since)
        let event = self.event(id, "region \(id) failed over: no session is left on it", .failoverCompleted(FailoverEnd(trigger: trigger, drained: .sessions)), now)
        return self.finish(signals: signals, now: now, events: [event])
    }

    mutating func finish(signals: [String: RegionSignal], now: Date, events: [Event]) -> Decision {
        var events = events
        let before = self.state.plan
        let calculator = self.calculator(signals)
        let computed = calculator.compute()
        let stranded = calculator.stranded()
        if let computed {
            for id in computed.short where self.state.regions[id]?.alert != .capacityShort {
                self.state.regions[id]?.alert = .capacityShort
                events.append(
                    self.event(id, "the chain has too little spare capacity for \(id)'s share; the rest is spread over healthy regions beyond their capacity", .capacityExhausted, now))
            }
            self.state.plan = computed.plan
        } else {
            self.state.plan = calculator.keptPlanWithoutDisabled()
        }
        // Panic: traffic must move and nothing may take it. Either a move under way has
        // nowhere to go, or a failing region keeps its share because no region could take
        // it (every region failing at once, or none allowed by its residency).
        let panic = computed == nil || !stranded.isEmpty
        if panic, !self.state.panic {
            let who = stranded.isEmpty ? "traffic that must move" : "the traffic of failing \(stranded.joined(separator: ", "))"
            events.append(
                self.event(
                    nil, "no healthy region can take \(who); keeping the last plan (\(before.description(order: self.regions.map(\.id))))",
                    .noHealthyTarget(Stranded(regions: stranded)), now))
        } else if !panic, self.state.panic {
            events.append(self.event(nil, "a healthy region can take the traffic again; plan recomputed", .panicCleared, now))
        }
        self.state.panic = panic
        let changed = self.state.plan != before
        if changed {
            if events.isEmpty {
                events.append(self.event(nil, "traffic plan: \(self.state.plan.description(order: self.regions.map(\.id)))", .planChanged, now))
            }
            self.stamp(&events)
        }
        return Decision(plan: self.state.plan, planChanged: changed, events: events)
    }

    func event(_ region: String?, _ message: String, _ payload: EventPayload, _ now: Date) -> Event {
        Event(time: now, region: region, message: message, payload)
    }

    /// Marks `events` as those of a decision that put the current plan in force.
    func stamp(_ events: inout [Event]) {
        let plan = self.state.plan.weights(order: self.regions.map(\.id))
        for index in events.indices { events[index].decision = DecisionStamp(plan: plan) }
    }
}

func fraction(_ value: Double) -> String {
    cFormat("%.4f", value)
}
