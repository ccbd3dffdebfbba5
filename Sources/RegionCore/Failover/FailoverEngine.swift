import Foundation

/// The failover state machine: where traffic goes, when it moves, and why.
///
/// Pure: `step` and `apply` take the signals or command and `now`, change the
/// state, and return a ``Decision``. Nothing here reads a clock or does I/O, so
/// cooldowns, the recovery window and gradual steps are tested by passing times.
///
/// Rules:
/// - A region fails over when its signal is `failing` (unhealthy, or degraded with a
///   trigger firing), unless the strategy is manual, a cooldown or pin blocks it, or no
///   healthy region could take its share (then it is an alert and the plan stays).
/// - automatic and cascading move the whole share at once; gradual moves `gradualStep`
///   of it every `gradualInterval`, halting (or reversing) when no healthy target is left.
/// - A region that failed over and is healthy again is `recovering` for `recoveryWindow`;
///   any evaluation that is not healthy restarts the window. Then, unless the cooldown
///   (counted from when it lost its traffic) still runs, a pin is set, or failback is
///   manual, traffic returns: at once, or step by step for the gradual strategy.
/// - The plan gives each region `weight x share`; the rest goes to healthy serving regions:
///   the best tier, by capacity (automatic, gradual), or down the priority chain limited by
///   spare capacity (`maxWeight x capacity`), spilling to the next (cascading). If any
///   traffic has nowhere healthy to go, the last plan is kept and a panic alert raised.
public struct FailoverEngine: Sendable {
    public private(set) var settings: FailoverSettings
    public private(set) var regions: [FailoverRegion]
    public private(set) var state: EngineState
    /// False until every enabled region has had a known status once since start. Until
    /// then no automatic decision is made: after a restart the restored plan stands
    /// while statuses are still `unknown`, rather than churning traffic.
    public private(set) var warm = false

    public init(settings: FailoverSettings, regions: [FailoverRegion], state: EngineState? = nil) {
        self.settings = settings
        self.regions = regions
        var restored = state ?? EngineState(regions: [:], plan: TrafficPlan(weights: [:], total: settings.total))
        for region in regions where restored.regions[region.id] == nil {
            var runtime = RegionRuntime()
            if !region.enabled { runtime.admin = .disabled }
            restored.regions[region.id] = runtime
        }
        restored.regions = restored.regions.filter { id, _ in regions.contains { $0.id == id } }
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

    // MARK: - The next moment something is due

    /// The earliest time at which `step` would change something without a new signal.
    public func nextDeadline() -> Date? {
        var dates: [Date] = []
        if let until = self.state.pin?.until { dates.append(until) }
        for (_, runtime) in self.state.regions {
            switch runtime.phase {
            case .failingOver(_, _, let next), .failingBack(let next): dates.append(next)
            case .recovering(_, let until): dates.append(until)
            case .awaitingFailback: if let cooldown = runtime.cooldownUntil { dates.append(cooldown) }
            case .serving, .failedOver: break
            }
        }
        return dates.min()
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
            events.append(self.event(.pinExpired, nil, "pin expired; automatic failover resumes", ["reason": pin.reason], now))
        }
        // Targets as the round starts. A region that fails over in this round was never a
        // target (failing means not healthy), so this set stays exact while regions advance.
        let targets = self.targets(signals: signals)
        for region in self.regions {
            let signal = signals[region.id] ?? RegionSignal(status: .unknown, passing: false)
            self.advance(region, signal: signal, targets: targets, now: now, events: &events)
        }
        return self.finish(signals: signals, now: now, events: events)
    }

    private var pinned: Bool { self.state.pin != nil }

    private func strategy(of id: String) -> FailoverStrategy {
        self.state.regions[id]?.strategy ?? self.settings.strategy
    }

    private mutating func advance(_ region: FailoverRegion, signal: RegionSignal, targets: Set<String>, now: Date, events: inout [Event]) {
        let id = region.id
        guard var rt = self.state.regions[id] else { return }
        defer { self.state.regions[id] = rt }
        if rt.admin == .disabled {
            rt.share = 0
            return
        }
        let step = self.settings.gradualStep
        switch rt.phase {
        case .serving:
            guard signal.failing, rt.admin == .enabled else {
                rt.alert = nil
                return
            }
            let trigger = signal.firedTrigger
            if let blocked = self.blockReason(rt, id: id, targets: targets, now: now) {
                if rt.alert != blocked {
                    rt.alert = blocked
                    events.append(
                        self.event(
                            .failoverBlocked, id, "region \(id) is \(signal.status.rawValue) (\(trigger.rawValue)) but traffic stays: \(blocked)",
                            ["trigger": trigger.rawValue, "reason": blocked, "status": signal.status.rawValue], now))
                }
                return
            }
            rt.alert = nil
            rt.cooldownUntil = now.addingTimeInterval(self.settings.cooldown.seconds)
            let strategy = self.strategy(of: id)
            self.beginMoveAway(&rt, trigger: trigger, gradual: strategy == .gradual, now: now)
            if strategy == .gradual {
                events.append(
                    self.event(
                        .failoverStarted, id, "region \(id) failing over gradually (\(trigger.rawValue)): keeps \(percent(rt.share)) of its share",
                        ["trigger": trigger.rawValue, "strategy": strategy.rawValue, "share": fraction(rt.share)], now))
            } else {
                events.append(
                    self.event(
                        .failoverStarted, id, "region \(id) failed over (\(trigger.rawValue), \(strategy.rawValue)): its whole share moved",
                        ["trigger": trigger.rawValue, "strategy": strategy.rawValue, "share": "0"], now))
            }
        case .failingOver(let trigger, let since, let next):
            if rt.admin == .enabled, signal.status == .healthy, signal.passing {
                rt.phase = .recovering(since: now, until: now.addingTimeInterval(self.settings.recoveryWindow.seconds))
                events.append(self.event(.recoveryStarted, id, "region \(id) is healthy again mid-move; the move stops and the recovery window starts", ["share": fraction(rt.share)], now))
                return
            }
            guard now >= next, !self.pinned else { return }
            if !self.hasTarget(for: id, targets: targets) {
                if self.settings.gradualReverse {
                    rt.share = min(1, rt.share + step)
                    events.append(self.event(.failoverHalted, id, "no healthy target left: moving \(id)'s share back (keeps \(percent(rt.share)))", ["share": fraction(rt.share)], now))
                    if rt.share >= 1 { rt.phase = .serving }
                    else { rt.phase = .failingOver(trigger: trigger, since: since, nextStep: now.addingTimeInterval(self.settings.gradualInterval.seconds)) }
                } else if rt.alert != "halted" {
                    rt.alert = "halted"
                    events.append(self.event(.failoverHalted, id, "no healthy target left: the move of \(id) halts at \(percent(rt.share))", ["share": fraction(rt.share)], now))
                }
                return
            }
            rt.alert = nil
            rt.share = max(0, rt.share - step)
            if rt.share == 0 {
                rt.phase = .failedOver(trigger: trigger, since: since)
                events.append(self.event(.failoverCompleted, id, "region \(id) failed over: its whole share has moved", ["trigger": trigger.rawValue, "share": "0"], now))
            } else {
                rt.phase = .failingOver(trigger: trigger, since: since, nextStep: next.addingTimeInterval(self.settings.gradualInterval.seconds) < now ? now.addingTimeInterval(self.settings.gradualInterval.seconds) : next.addingTimeInterval(self.settings.gradualInterval.seconds))
                events.append(self.event(.failoverStep, id, "region \(id) keeps \(percent(rt.share)) of its share", ["trigger": trigger.rawValue, "share": fraction(rt.share)], now))
            }
        case .failedOver:
            guard rt.admin == .enabled, signal.status == .healthy, signal.passing else { return }
            let until = now.addingTimeInterval(self.settings.recoveryWindow.seconds)
            rt.phase = .recovering(since: now, until: until)
            events.append(
                self.event(
                    .recoveryStarted, id, "region \(id) is healthy again; traffic returns if it stays healthy until \(until.formatted(Date.ISO8601FormatStyle()))",
                    ["until": until.formatted(Date.ISO8601FormatStyle())], now))
        case .recovering(let since, let until):
            if signal.failing {
                rt.phase = .failedOver(trigger: signal.firedTrigger, since: now)
                events.append(self.event(.recoveryFailed, id, "region \(id) failed again during its recovery window", ["trigger": signal.firedTrigger.rawValue], now))
                return
            }
            if !signal.passing || signal.status != .healthy {
                let restarted = now.addingTimeInterval(self.settings.recoveryWindow.seconds)
                rt.phase = .recovering(since: now, until: restarted)
                events.append(
                    self.event(
                        .recoveryRestarted, id, "region \(id) had a failed evaluation \(wholeNumber(now.timeIntervalSince(since))) s into its recovery window; the window restarts",
                        ["until": restarted.formatted(Date.ISO8601FormatStyle())], now))
                return
            }
            guard now >= until else { return }
            rt.phase = .awaitingFailback(since: now)
            events.append(self.event(.recoveryCompleted, id, "region \(id) stayed healthy for the whole recovery window", [:], now))
            self.tryFailback(&rt, id: id, now: now, events: &events)
        case .awaitingFailback:
            if signal.failing {
                rt.phase = .failedOver(trigger: signal.firedTrigger, since: now)
                events.append(self.event(.recoveryFailed, id, "region \(id) failed again while waiting to fail back", ["trigger": signal.firedTrigger.rawValue], now))
                return
            }
            if !signal.passing || signal.status != .healthy {
                rt.phase = .recovering(since: now, until: now.addingTimeInterval(self.settings.recoveryWindow.seconds))
                events.append(self.event(.recoveryRestarted, id, "region \(id) had a failed evaluation before failing back; the window restarts", [:], now))
                return
            }
            self.tryFailback(&rt, id: id, now: now, events: &events)
        case .failingBack(let next):
            if signal.failing {
                // Losing traffic again is a new failover, allowed: the cooldown ended before failback began.
                rt.share = 0
                rt.phase = .failedOver(trigger: signal.firedTrigger, since: now)
                rt.cooldownUntil = now.addingTimeInterval(self.settings.cooldown.seconds)
                events.append(self.event(.failoverStarted, id, "region \(id) failed during failback; its share moves away again", ["trigger": signal.firedTrigger.rawValue, "share": "0"], now))
                return
            }
            guard now >= next, !self.pinned else { return }
            rt.share = min(1, rt.share + step)
            if rt.share >= 1 {
                rt.phase = .serving
                rt.strategy = nil
                rt.target = nil
                events.append(self.event(.failbackCompleted, id, "region \(id) has its whole share back", ["share": "1"], now))
            } else {
                rt.phase = .failingBack(nextStep: now.addingTimeInterval(self.settings.gradualInterval.seconds))
                events.append(self.event(.failbackStep, id, "region \(id) gets \(percent(rt.share)) of its share back", ["share": fraction(rt.share)], now))
            }
        }
    }

    /// Why an automatic failover of `id` cannot happen now, if it cannot.
    private func blockReason(_ rt: RegionRuntime, id: String, targets: Set<String>, now: Date) -> String? {
        if self.strategy(of: id) == .manual { return "strategy is manual; move it with `regionctl failover \(id)`" }
        if let pin = self.state.pin { return "automatic moves are pinned (\(pin.reason))" }
        if let cooldown = rt.cooldownUntil, now < cooldown {
            return "cooldown until \(cooldown.formatted(Date.ISO8601FormatStyle()))"
        }
        if !self.hasTarget(for: id, targets: targets) { return "no healthy region can take its traffic" }
        return nil
    }

    /// Starts moving a region's traffic away: one gradual step, or all of it at once.
    private func beginMoveAway(_ rt: inout RegionRuntime, trigger: Trigger, gradual: Bool, now: Date) {
        if gradual, rt.share > 0 {
            rt.share = max(0, rt.share - self.settings.gradualStep)
            rt.phase =
                rt.share == 0
                ? .failedOver(trigger: trigger, since: now)
                : .failingOver(trigger: trigger, since: now, nextStep: now.addingTimeInterval(self.settings.gradualInterval.seconds))
        } else {
            rt.share = 0
            rt.phase = .failedOver(trigger: trigger, since: now)
        }
    }

    /// Starts failback if nothing holds it; otherwise leaves the region awaiting it.
    private func tryFailback(_ rt: inout RegionRuntime, id: String, now: Date, events: inout [Event]) {
        if rt.admin != .enabled { return }
        var hold: String?
        if self.settings.failback == .manual { hold = "failback is manual; approve with `regionctl enable \(id)`" }
        else if let pin = self.state.pin { hold = "automatic moves are pinned (\(pin.reason))" }
        else if let cooldown = rt.cooldownUntil, now < cooldown { hold = "cooldown until \(cooldown.formatted(Date.ISO8601FormatStyle()))" }
        if let hold {
            if rt.alert != hold {
                rt.alert = hold
                events.append(self.event(.failbackHeld, id, "region \(id) waits to fail back: \(hold)", ["reason": hold], now))
            }
            return
        }
        self.startFailback(&rt, id: id, now: now, events: &events)
    }

    private func startFailback(_ rt: inout RegionRuntime, id: String, now: Date, events: inout [Event]) {
        rt.alert = nil
        if self.strategy(of: id) == .gradual {
            rt.share = min(1, rt.share + self.settings.gradualStep)
            if rt.share < 1 {
                rt.phase = .failingBack(nextStep: now.addingTimeInterval(self.settings.gradualInterval.seconds))
                events.append(self.event(.failbackStep, id, "region \(id) fails back gradually: \(percent(rt.share)) of its share", ["share": fraction(rt.share)], now))
                return
            }
        }
        rt.share = 1
        rt.phase = .serving
        rt.strategy = nil
        rt.target = nil
        events.append(self.event(.failbackCompleted, id, "region \(id) has its whole share back", ["share": "1"], now))
    }

    // MARK: - Targets and the plan

    private func isTarget(_ id: String, signals: [String: RegionSignal]) -> Bool {
        guard let rt = self.state.regions[id], rt.admin == .enabled, rt.phase == .serving, rt.share >= 1 else { return false }
        return signals[id]?.status == .healthy
    }

    /// Regions that may receive moved traffic: enabled, serving their whole share, healthy.
    private func targets(signals: [String: RegionSignal]) -> Set<String> {
        Set(self.regions.lazy.filter { self.isTarget($0.id, signals: signals) }.map(\.id))
    }

    private func hasTarget(for id: String, targets: Set<String>) -> Bool {
        if let chosen = self.state.regions[id]?.target, chosen != id, self.state.regions[chosen]?.admin == .enabled { return true }
        return targets.count > (targets.contains(id) ? 1 : 0)
    }

    func baseWeight(_ region: FailoverRegion) -> Double {
        Double(self.state.weightOverride?[region.id] ?? region.weight)
    }

    /// The plan the current state calls for, or nil when some traffic has nowhere healthy to go.
    func computePlan(signals: [String: RegionSignal]) -> (plan: TrafficPlan, capacityShort: [String])? {
        var value: [String: Double] = [:]
        for region in self.regions {
            let rt = self.state.regions[region.id] ?? RegionRuntime()
            value[region.id] = rt.admin == .disabled ? 0 : self.baseWeight(region) * rt.share
        }
        // Computed once per plan: a source with traffic to move is never itself a target.
        let targets = self.regions.filter { self.isTarget($0.id, signals: signals) }
        let capacity = { (r: FailoverRegion) in signals[r.id]?.capacity ?? 1 }
        let bestTier = targets.map(\.priority).min().map { best in targets.filter { $0.priority == best } } ?? []
        let chain = targets  // already in config order; a stable sort by priority keeps it within a tier
            .enumerated().sorted { $0.element.priority != $1.element.priority ? $0.element.priority < $1.element.priority : $0.offset < $1.offset }
            .map(\.element)
        var pooled = 0.0  // moved by automatic and gradual: spread once over the best tier
        var short: [String] = []
        for source in self.regions {
            let rt = self.state.regions[source.id] ?? RegionRuntime()
            let freed = self.baseWeight(source) - (value[source.id] ?? 0)
            guard freed > 0 else { continue }
            if let chosen = rt.target, chosen != source.id, self.state.regions[chosen]?.admin == .enabled {
                value[chosen, default: 0] += freed
                continue
            }
            guard !targets.isEmpty else { return nil }
            guard self.strategy(of: source.id) == .cascading else {
                pooled += freed
                continue
            }
            var remaining = freed
            for target in chain where remaining > 0 {
                let spare = max(0, Double(target.maxWeight) * capacity(target) - (value[target.id] ?? 0))
                let give = min(spare, remaining)
                value[target.id, default: 0] += give
                remaining -= give
            }
            if remaining > 1e-9 {
                short.append(source.id)
                Self.spread(remaining, over: chain, weight: { self.baseWeight($0) * capacity($0) }, into: &value)
            }
        }
        if pooled > 0 {
            Self.spread(pooled, over: bestTier, weight: { self.baseWeight($0) * capacity($0) }, into: &value)
        }
        let shares = self.regions.map { ($0.id, value[$0.id] ?? 0) }
        guard shares.contains(where: { $0.1 > 0 }) else { return nil }
        return (TrafficPlan.apportion(shares, total: self.settings.total), short)
    }

    /// Adds `amount` to `targets` in proportion to `weight` (equally when all weights are 0).
    static func spread(_ amount: Double, over targets: [FailoverRegion], weight: (FailoverRegion) -> Double, into value: inout [String: Double]) {
        let weights = targets.map { max(0, weight($0)) }
        let sum = weights.reduce(0, +)
        for (target, w) in zip(targets, weights) {
            value[target.id, default: 0] += sum > 0 ? amount * w / sum : amount / Double(targets.count)
        }
    }

    private mutating func finish(signals: [String: RegionSignal], now: Date, events: [Event]) -> Decision {
        var events = events
        let before = self.state.plan
        let computed = self.computePlan(signals: signals)
        let stranded = self.stranded(signals: signals)
        if let (plan, short) = computed {
            for id in short where self.state.regions[id]?.alert != "capacity" {
                self.state.regions[id]?.alert = "capacity"
                events.append(
                    self.event(.capacityExhausted, id, "the chain has too little spare capacity for \(id)'s share; the rest is spread over healthy regions beyond their capacity", [:], now))
            }
            self.state.plan = plan
        } else {
            self.state.plan = self.keptPlanWithoutDisabled()
        }
        // Panic: traffic must move and nothing healthy can take it. Either a move under
        // way has nowhere to go, or a failing region keeps its share because no region
        // could take it (every region failing at once, for example).
        let panic = computed == nil || !stranded.isEmpty
        if panic, !self.state.panic {
            let who = stranded.isEmpty ? "traffic that must move" : "the traffic of failing \(stranded.joined(separator: ", "))"
            events.append(
                self.event(
                    .noHealthyTarget, nil, "no healthy region can take \(who); keeping the last plan (\(before.description(order: self.regions.map(\.id))))",
                    stranded.isEmpty ? [:] : ["regions": stranded.joined(separator: ",")], now))
        } else if !panic, self.state.panic {
            events.append(self.event(.panicCleared, nil, "a healthy region can take the traffic again; plan recomputed", [:], now))
        }
        self.state.panic = panic
        let changed = self.state.plan != before
        if changed {
            let text = self.state.plan.description(order: self.regions.map(\.id))
            for index in events.indices { events[index].fields["plan"] = text }
            if events.isEmpty {
                events.append(self.event(.planChanged, nil, "traffic plan: \(text)", ["plan": text], now))
            }
        }
        return Decision(plan: self.state.plan, planChanged: changed, events: events)
    }

    /// Failing regions that keep their share only because no healthy region could take it.
    public func stranded(signals: [String: RegionSignal]) -> [String] {
        let targets = self.targets(signals: signals)
        return self.regions.compactMap { region in
            guard let rt = self.state.regions[region.id], rt.admin == .enabled, rt.phase == .serving, rt.share > 0,
                signals[region.id]?.failing == true, !self.hasTarget(for: region.id, targets: targets)
            else { return nil }
            return region.id
        }
    }

    /// The last plan, except that an operator's `disable` always wins: a disabled region's
    /// weight goes to the regions that already have traffic (or, if none, by baseline).
    private func keptPlanWithoutDisabled() -> TrafficPlan {
        let plan = self.state.plan
        let disabled = Set(self.regions.filter { self.state.regions[$0.id]?.admin == .disabled }.map(\.id))
        guard disabled.contains(where: { plan.weight($0) > 0 }) else { return plan }
        var shares = self.regions.map { ($0.id, disabled.contains($0.id) ? 0 : Double(plan.weight($0.id))) }
        if !shares.contains(where: { $0.1 > 0 }) {
            shares = self.regions.map { ($0.id, disabled.contains($0.id) ? 0 : self.baseWeight($0)) }
        }
        return TrafficPlan.apportion(shares, total: self.settings.total)
    }

    // MARK: - Operator commands

    /// Applies an operator command. `by` is the uid that asked; `reason` is theirs.
    public mutating func apply(_ command: OperatorCommand, by uid: UInt32, reason: String, signals: [String: RegionSignal], now: Date) throws(ControlError) -> Decision {
        func known(_ id: String) throws(ControlError) {
            guard self.state.regions[id] != nil else {
                throw ControlError(.notFound, "no region '\(id)'; known regions: \(self.regions.map(\.id).joined(separator: ", "))")
            }
        }
        var extra: [Event] = []
        var fields = ["uid": "\(uid)", "reason": reason, "command": command.name]
        var message: String
        var region: String?
        switch command {
        case .failover(let from, let to, let strategy):
            try known(from)
            if let to {
                try known(to)
                guard to != from else { throw ControlError(.badRequest, "cannot fail \(from) over to itself") }
                guard self.state.regions[to]?.admin == .enabled else { throw ControlError(.badRequest, "\(to) is \(self.state.regions[to]!.admin.rawValue); enable it first") }
            }
            var rt = self.state.regions[from]!
            rt.admin = .drained
            rt.target = to
            rt.strategy = strategy
            rt.alert = nil
            rt.cooldownUntil = now.addingTimeInterval(self.settings.cooldown.seconds)
            self.beginMoveAway(&rt, trigger: .manual, gradual: (strategy ?? self.settings.strategy) == .gradual, now: now)
            self.state.regions[from] = rt
            region = from
            fields["trigger"] = Trigger.manual.rawValue
            if let to { fields["target"] = to }
            if let strategy { fields["strategy"] = strategy.rawValue }
            message = "operator failover of \(from)\(to.map { " to \($0)" } ?? ""): \(reason)"
        case .drain(let id):
            try known(id)
            var rt = self.state.regions[id]!
            rt.admin = .drained
            rt.alert = nil
            self.beginMoveAway(&rt, trigger: .manual, gradual: self.settings.strategy == .gradual, now: now)
            self.state.regions[id] = rt
            region = id
            message = "operator drained \(id): \(reason)"
        case .disable(let id):
            try known(id)
            guard self.state.regions.contains(where: { $0.key != id && $0.value.admin != .disabled }) else {
                throw ControlError(.badRequest, "\(id) is the last region not disabled; traffic must go somewhere")
            }
            self.state.regions[id]!.admin = .disabled
            self.state.regions[id]!.share = 0
            self.state.regions[id]!.phase = .failedOver(trigger: .manual, since: now)
            region = id
            message = "operator disabled \(id): \(reason)"
        case .enable(let id):
            try known(id)
            var rt = self.state.regions[id]!
            rt.admin = .enabled
            rt.cooldownUntil = nil
            let healthy = signals[id]?.status == .healthy
            if rt.phase == .serving && rt.share >= 1 {
                message = "operator enabled \(id) (it already had its traffic): \(reason)"
            } else if healthy {
                // The operator's word replaces the recovery window and the cooldown.
                self.startFailback(&rt, id: id, now: now, events: &extra)
                message = "operator enabled \(id); traffic returns: \(reason)"
            } else {
                rt.phase = .failedOver(trigger: .manual, since: now)
                message = "operator enabled \(id); it gets traffic once it has been healthy for the recovery window: \(reason)"
            }
            self.state.regions[id] = rt
            region = id
        case .setWeights(let weights):
            for id in weights.keys { try known(id) }
            for (id, weight) in weights.sorted(by: { $0.key < $1.key }) where !(0...FailoverRegion.maximumWeight).contains(weight) {
                throw ControlError(.badRequest, "weight of \(id) is \(weight); use a whole number from 0 to \(FailoverRegion.maximumWeight)")
            }
            var merged = self.state.weightOverride ?? [:]
            for region in self.regions where merged[region.id] == nil { merged[region.id] = region.weight }
            merged.merge(weights) { _, new in new }
            guard merged.values.reduce(0, +) > 0 else { throw ControlError(.badRequest, "at least one region needs a weight above 0") }
            self.state.weightOverride = merged
            fields["weights"] = weights.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            message = "operator set baseline weights \(fields["weights"]!): \(reason)"
        case .pin(let ttl):
            let until = ttl.map { now.addingTimeInterval($0.seconds) }
            self.state.pin = Pin(reason: reason, by: uid, since: now, until: until)
            if let until { fields["until"] = until.formatted(Date.ISO8601FormatStyle()) }
            message = "operator pinned traffic\(until.map { " until \($0.formatted(Date.ISO8601FormatStyle()))" } ?? ""): \(reason)"
        case .unpin:
            guard self.state.pin != nil else { throw ControlError(.badRequest, "nothing is pinned") }
            self.state.pin = nil
            message = "operator unpinned traffic: \(reason)"
        }
        var events = [self.event(.operatorCommand, region, message, fields, now)] + extra
        let decision = self.finish(signals: signals, now: now, events: [])
        events += decision.events
        if decision.planChanged {
            for index in events.indices { events[index].fields["plan"] = decision.plan.description(order: self.regions.map(\.id)) }
        }
        return Decision(plan: decision.plan, planChanged: decision.planChanged, events: events.filter { $0.kind != .planChanged })
    }

    private func event(_ kind: EventKind, _ region: String?, _ message: String, _ fields: [String: String], _ now: Date) -> Event {
        Event(time: now, kind: kind, region: region, message: message, fields: fields)
    }
}

func fraction(_ value: Double) -> String {
    String(format: "%.4f", value)
}
