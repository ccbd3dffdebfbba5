/// Where traffic goes, given the engine's state and the regions' signals. Pure.
///
/// Each region keeps `weight x share` of its baseline. What it does not keep (its freed
/// traffic) goes to the region an operator chose, or else to its targets: regions that
/// are enabled, serve their whole share, are allowed by its residency (`failover_to`,
/// labels) and, where `max_lag` is set, report a lag below it, on the best rung of the
/// ladder (``TargetRung``): healthy ones; when none is, and the region that frees the
/// traffic is unhealthy, degraded ones that are not failing themselves. Never onto a
/// region as bad as, or worse than, the one it leaves. Automatic, gradual and graceful
/// moves spread it over the best tier of healthy targets by `weight x capacity`;
/// cascading goes down their priority chain, each taking what its spare capacity
/// (`max_weight x capacity`) allows, and so does every move onto degraded targets. If
/// some freed traffic has no target, there is no plan (the engine keeps the last one and
/// raises an alarm).
struct PlanCalculator {
    let regions: [FailoverRegion]
    let state: EngineState
    let signals: [String: RegionSignal]
    let total: Int
    let strategy: (String) -> FailoverStrategy
    /// The regions that may take moved traffic now, computed once: the plan asks for
    /// every pair of regions, and with 1,000 of them a check that built its reason text
    /// each time made one engine round take seconds.
    let eligible: Set<String>
    /// Those regions in config order.
    let open: [FailoverRegion]
    /// The second rung: enabled, serving, degraded but not failing, lag below `max_lag`.
    let degraded: [FailoverRegion]

    init(regions: [FailoverRegion], state: EngineState, signals: [String: RegionSignal], total: Int, strategy: @escaping (String) -> FailoverStrategy) {
        self.regions = regions
        self.state = state
        self.signals = signals
        self.total = total
        self.strategy = strategy
        self.open = regions.filter { Self.mayTakeTraffic($0, on: .healthy, state: state, signals: signals) }
        self.eligible = Set(self.open.map(\.id))
        self.degraded = regions.filter { Self.mayTakeTraffic($0, on: .degraded, state: state, signals: signals) }
    }

    /// The same rule as ``exclusion(_:)``, without its text.
    static func mayTakeTraffic(_ region: FailoverRegion, on rung: TargetRung, state: EngineState, signals: [String: RegionSignal]) -> Bool {
        guard let rt = state.regions[region.id], rt.admin == .enabled, rt.phase == .serving, rt.share >= 1, let signal = signals[region.id] else { return false }
        switch rung {
        case .healthy: guard signal.status == .healthy else { return false }
        case .degraded: guard signal.status == .degraded, !signal.failing else { return false }
        }
        guard let maxLag = region.maxLag else { return true }
        guard let lag = signal.lag else { return false }
        return lag < maxLag
    }

    /// Traffic moved from one region to another, in plan units.
    struct Flow: Sendable, Equatable {
        var from: String
        var to: String
        var amount: Double
    }

    struct Result {
        var plan: TrafficPlan
        /// Every move of traffic from a region with an allow-list (or to an operator's
        /// chosen target), for the residency property. Regions that may send traffic
        /// anywhere are pooled and not listed.
        var flows: [Flow]
        /// Cascading sources whose chain had too little spare capacity.
        var short: [String]
    }

    func region(_ id: String) -> FailoverRegion? { self.regions.first { $0.id == id } }

    func baseWeight(_ region: FailoverRegion) -> Double {
        Double(self.state.weightOverride?[region.id] ?? region.weight)
    }

    /// Why a region cannot take moved traffic now, or nil when it can.
    func exclusion(_ id: String) -> String? {
        guard let rt = self.state.regions[id], let region = self.region(id) else { return "unknown region" }
        if rt.admin != .enabled { return rt.admin.rawValue }
        if rt.phase != .serving || rt.share < 1 { return "moving traffic itself (\(rt.phase.name))" }
        guard let signal = self.signals[id], signal.status == .healthy else {
            if let signal = self.signals[id], signal.status == .degraded, !signal.failing {
                return "degraded: takes moved traffic only from an unhealthy region, when no healthy one can"
            }
            return "not healthy"
        }
        if let maxLag = region.maxLag {
            guard let lag = signal.lag else { return "replication lag unknown (max_lag \(formatSeconds(maxLag)))" }
            if lag >= maxLag { return "replication lag \(formatSeconds(lag)) >= max_lag \(formatSeconds(maxLag))" }
        }
        return nil
    }

    func isTarget(_ id: String) -> Bool { self.eligible.contains(id) }

    /// The operator's chosen target for `source`, if it may take the traffic.
    func chosenTarget(for source: FailoverRegion) -> String? {
        guard let rt = self.state.regions[source.id], let chosen = rt.target, chosen != source.id,
            self.state.regions[chosen]?.admin == .enabled, source.mayMove(to: chosen) || rt.residencyOverride != nil
        else { return nil }
        return chosen
    }

    /// The regions `source`'s traffic may go to now, in config order: the best rung's.
    func targets(for source: FailoverRegion) -> [FailoverRegion] {
        let healthy = self.healthyTargets(for: source)
        guard healthy.isEmpty, self.mayUseDegraded(source) else { return healthy }
        return self.degraded.filter { $0.id != source.id && source.mayMove(to: $0.id) }
    }

    func healthyTargets(for source: FailoverRegion) -> [FailoverRegion] {
        if source.allowedTargets == nil {
            return self.eligible.contains(source.id) ? self.open.filter { $0.id != source.id } : self.open
        }
        return self.open.filter { $0.id != source.id && source.mayMove(to: $0.id) }
    }

    /// Degraded targets are better than the region only when it is unhealthy.
    func mayUseDegraded(_ source: FailoverRegion) -> Bool {
        self.signals[source.id]?.status == .unhealthy
    }

    /// The rung `source`'s traffic goes to now, or nil when it has nowhere to go.
    func rung(for source: FailoverRegion) -> TargetRung? {
        if !self.healthyTargets(for: source).isEmpty { return .healthy }
        return self.targets(for: source).isEmpty ? nil : .degraded
    }

    func hasTarget(for source: FailoverRegion) -> Bool {
        self.chosenTarget(for: source) != nil || !self.targets(for: source).isEmpty
    }

    func capacity(_ region: FailoverRegion) -> Double { self.signals[region.id]?.capacity ?? 1 }

    /// The plan the state calls for, or nil when some traffic has nowhere to go.
    func compute() -> Result? {
        var value: [String: Double] = [:]
        for region in self.regions {
            let rt = self.state.regions[region.id] ?? RegionRuntime()
            value[region.id] = rt.admin == .disabled ? 0 : self.baseWeight(region) * rt.share
        }
        var flows: [Flow] = []
        var short: [String] = []
        func give(_ amount: Double, from: String, to: String) {
            guard amount > 0 else { return }
            value[to, default: 0] += amount
            flows.append(Flow(from: from, to: to, amount: amount))
        }
        let weight = { (r: FailoverRegion) in max(0, self.baseWeight(r) * self.capacity(r)) }
        // Sources without an allow-list that spread by tier all spread over the same
        // regions in the same proportions: their freed traffic is pooled and spread once
        // (with 1,000 regions, per-source spreading was a million additions a round).
        var pooled = 0.0
        let best = self.open.map(\.priority).min()
        let bestTier = self.open.filter { $0.priority == best }
        func flushPool() {
            // Before a cascading source reads spare capacity, as if spread in order.
            guard pooled > 0 else { return }
            for (target, amount) in Self.spread(pooled, over: bestTier, weight: weight) { value[target, default: 0] += amount }
            pooled = 0
        }
        for source in self.regions {
            let freed = self.baseWeight(source) - (value[source.id] ?? 0)
            guard freed > 1e-9 else { continue }
            if let chosen = self.chosenTarget(for: source) {
                give(freed, from: source.id, to: chosen)
                continue
            }
            let targets = self.targets(for: source)
            guard !targets.isEmpty else { return nil }
            let onDegraded = self.healthyTargets(for: source).isEmpty
            // Onto degraded targets, spare capacity decides, as in a cascade.
            let cascading = self.strategy(source.id) == .cascading || onDegraded
            if !cascading, source.allowedTargets == nil, !self.eligible.contains(source.id) {
                pooled += freed
                continue
            }
            if cascading {
                flushPool()
                // Down the chain by priority (config order within a tier), each taking its spare capacity.
                let chain = targets.enumerated().sorted { ($0.element.priority, $0.offset) < ($1.element.priority, $1.offset) }.map(\.element)
                var remaining = freed
                for target in chain where remaining > 0 {
                    let spare = max(0, Double(target.maxWeight) * self.capacity(target) - (value[target.id] ?? 0))
                    let share = min(spare, remaining)
                    give(share, from: source.id, to: target.id)
                    remaining -= share
                }
                if remaining > 1e-9 {
                    short.append(source.id)
                    for (target, amount) in Self.spread(remaining, over: chain, weight: weight) { give(amount, from: source.id, to: target) }
                }
            } else {
                let best = targets.map(\.priority).min()!
                for (target, amount) in Self.spread(freed, over: targets.filter { $0.priority == best }, weight: weight) {
                    give(amount, from: source.id, to: target)
                }
            }
        }
        flushPool()
        let shares = self.regions.map { ($0.id, value[$0.id] ?? 0) }
        guard shares.contains(where: { $0.1 > 0 }) else { return nil }
        return Result(plan: TrafficPlan.apportion(shares, total: self.total), flows: flows, short: short)
    }

    /// `amount` in proportion to `weight` (equally when all weights are 0).
    static func spread(_ amount: Double, over targets: [FailoverRegion], weight: (FailoverRegion) -> Double) -> [(String, Double)] {
        let weights = targets.map(weight)
        let sum = weights.reduce(0, +)
        return zip(targets, weights).map { target, w in (target.id, sum > 0 ? amount * w / sum : amount / Double(targets.count)) }
    }

    /// Failing regions that keep their share only because nothing may take it.
    func stranded() -> [String] {
        self.regions.compactMap { region in
            guard let rt = self.state.regions[region.id], rt.admin == .enabled, rt.phase == .serving, rt.share > 0,
                self.signals[region.id]?.failing == true, !self.hasTarget(for: region)
            else { return nil }
            return region.id
        }
    }

    /// The last plan, except that an operator's `disable` always wins: a disabled region's
    /// weight goes to the regions that already have traffic and may take it (or else, by
    /// baseline, to any it may go to). Residency holds here too.
    func keptPlanWithoutDisabled() -> TrafficPlan {
        var plan = self.state.plan
        for region in self.regions where self.state.regions[region.id]?.admin == .disabled && plan.weight(region.id) > 0 {
            let open = self.regions.filter { $0.id != region.id && self.state.regions[$0.id]?.admin != .disabled && region.mayMove(to: $0.id) }
            var receivers = open.filter { plan.weight($0.id) > 0 }.map { ($0.id, Double(plan.weight($0.id))) }
            if receivers.isEmpty { receivers = open.map { ($0.id, self.baseWeight($0)) } }
            guard receivers.contains(where: { $0.1 > 0 }) else { continue }
            let moved = Double(plan.weight(region.id))
            let sum = receivers.reduce(0) { $0 + $1.1 }
            var shares = self.regions.map { ($0.id, Double(plan.weight($0.id))) }
            for index in shares.indices {
                if shares[index].0 == region.id { shares[index].1 = 0 }
                if let receiver = receivers.first(where: { $0.0 == shares[index].0 }) { shares[index].1 += moved * receiver.1 / sum }
            }
            plan = TrafficPlan.apportion(shares, total: self.total)
        }
        return plan
    }
}
