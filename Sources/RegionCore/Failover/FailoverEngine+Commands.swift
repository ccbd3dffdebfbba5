import FoundationEssentials

/// Operator commands (control socket): each checks what it is asked, changes the state,
/// and returns the decision with an `operator_command` event first.
extension FailoverEngine {
    /// Applies an operator command. `by` is the uid that asked; `reason` is theirs.
    public mutating func apply(_ command: OperatorCommand, by uid: UInt32, reason: String, signals: [String: RegionSignal], now: Date) throws(ControlError) -> Decision {
        var extra: [Event] = []
        var action = OperatorAction(command: command.name, uid: uid, reason: reason)
        let message: String
        var region: String?
        switch command {
        case .failover(let from, let to, let strategy, let overrideResidency):
            message = try self.failover(
                from: from, to: to, strategy: strategy, overrideResidency: overrideResidency, reason: reason, signals: signals, now: now, action: &action)
            region = from
        case .drain(let id, let window):
            try self.known(id)
            region = id
            if let scheduled = try self.schedule(.drain, id, window, uid: uid, reason: reason, now: now, action: &action) {
                message = scheduled
                break
            }
            let strategy = try self.drainRegion(id, signals: signals, now: now)
            self.state.regions[id]!.maintenance = Maintenance(.drain, window, uid: uid, reason: reason, now: now)
            action.trigger = .manual
            action.strategy = strategy
            action.until = self.state.regions[id]!.maintenance?.end
            message = "operator drained \(id) (\(strategy.rawValue))\(Self.untilText(action.until)): \(reason)"
        case .disable(let id, let window):
            try self.known(id)
            region = id
            if let scheduled = try self.schedule(.disable, id, window, uid: uid, reason: reason, now: now, action: &action) {
                message = scheduled
                break
            }
            if try self.disableRegion(id, now: now) { action.trigger = .manual }
            self.state.regions[id]!.maintenance = Maintenance(.disable, window, uid: uid, reason: reason, now: now)
            action.until = self.state.regions[id]!.maintenance?.end
            message = "operator disabled \(id)\(Self.untilText(action.until)): \(reason)"
        case .enable(let id):
            try self.known(id)
            let ended = self.state.regions[id]!.maintenance
            self.state.regions[id]!.maintenance = nil
            let what = self.enableRegion(id, signals: signals, now: now, events: &extra)
            let cancelled = ended.map { $0.begun ? "; its \($0.action.rawValue) ends early" : "; the \($0.action.rawValue) scheduled for \(Self.timeText($0.start)) is cancelled" } ?? ""
            message = "operator enabled \(id)\(what)\(cancelled): \(reason)"
            region = id
        case .setWeights(let weights):
            let merged = try self.checkedWeights(weights)
            self.state.weightOverride = merged
            let weights = self.regions.compactMap { r in merged[r.id].map { RegionWeight(region: r.id, weight: $0) } }
            action.weights = weights
            message = "operator set baseline weights \(weights.map(\.description).joined(separator: " ")): \(reason)"
        case .pin(let ttl):
            let until = ttl.map { now.addingTimeInterval($0.seconds) }
            self.state.pin = Pin(reason: reason, by: uid, since: now, until: until)
            action.until = until
            message = "operator pinned traffic\(until.map { " until \($0.formatted(Date.ISO8601FormatStyle()))" } ?? ""): \(reason)"
        case .unpin:
            guard self.state.pin != nil else { throw ControlError(.badRequest, "nothing is pinned") }
            self.state.pin = nil
            message = "operator unpinned traffic: \(reason)"
        case .confirm:
            // The decision machine's (it holds the suspicion); the engine has nothing to confirm.
            throw ControlError(.badRequest, "nothing to confirm: this regiond does not suspect itself")
        }
        var events = [self.event(region, message, .operatorCommand(action), now)] + extra
        let decision = self.finish(signals: signals, now: now, events: [])
        events += decision.events.filter { $0.kind != .planChanged }
        if decision.planChanged { self.stamp(&events) }
        return Decision(plan: decision.plan, planChanged: decision.planChanged, events: events)
    }

    @discardableResult
    func known(_ id: String) throws(ControlError) -> FailoverRegion {
        guard let region = self.region(id), self.state.regions[id] != nil else {
            throw ControlError(.notFound, "no region '\(id)'; known regions: \(self.regions.map(\.id).joined(separator: ", "))")
        }
        return region
    }

    /// Refuses a move whose traffic would have nowhere to go, naming why each candidate is out.
    private func requireTarget(for source: FailoverRegion, signals: [String: RegionSignal], verb: String) throws(ControlError) {
        let calculator = self.calculator(signals)
        guard calculator.targets(for: source).isEmpty else { return }
        let candidates = self.regions.filter { $0.id != source.id && source.mayMove(to: $0.id) }
        let why = candidates.map { "\($0.id): \(calculator.exclusion($0.id) ?? "ok")" }.joined(separator: "; ")
        let scope = source.allowedTargets.map { " (its traffic may only go to \($0.joined(separator: ", ")))" } ?? ""
        throw ControlError(.badRequest, "cannot \(verb) \(source.id): no region can take its traffic now\(scope)\(why.isEmpty ? "" : ": \(why)")")
    }

    /// Moves a region's traffic away following its strategy and holds it away (`drain`);
    /// returns the strategy that moves it.
    mutating func drainRegion(_ id: String, signals: [String: RegionSignal], now: Date) throws(ControlError) -> FailoverStrategy {
        let source = try self.known(id)
        guard self.state.regions[id]!.admin != .disabled else { throw ControlError(.badRequest, "\(id) is disabled; it has no traffic to drain") }
        try self.requireTarget(for: source, signals: signals, verb: "drain")
        var rt = self.state.regions[id]!
        rt.admin = .drained
        rt.alert = nil
        let strategy = self.strategy(of: id) == .manual ? FailoverStrategy.automatic : self.strategy(of: id)
        rt.strategy = strategy
        self.beginMoveAway(&rt, trigger: .manual, strategy: strategy, now: now)
        self.state.regions[id] = rt
        return strategy
    }

    /// Takes all of a region's traffic at once (`disable`); returns whether it had any.
    mutating func disableRegion(_ id: String, now: Date) throws(ControlError) -> Bool {
        let source = try self.known(id)
        let open = self.regions.filter { $0.id != id && self.state.regions[$0.id]?.admin != .disabled }
        guard !open.isEmpty else { throw ControlError(.badRequest, "\(id) is the last region not disabled; traffic must go somewhere") }
        guard open.contains(where: { source.mayMove(to: $0.id) }) else {
            throw ControlError(
                .badRequest, "\(id)'s traffic may only go to \(source.allowedTargets!.joined(separator: ", ")), and none of them is enabled; enable one first")
        }
        let hadTraffic = self.state.plan.weight(id) > 0
        self.state.regions[id]!.admin = .disabled
        self.state.regions[id]!.share = 0
        self.state.regions[id]!.phase = .failedOver(trigger: .manual, since: now)
        return hadTraffic
    }

    /// Returns a region to service (`enable`, or the end of a maintenance window); says what
    /// happens to its traffic, as a clause for the event's message.
    mutating func enableRegion(_ id: String, signals: [String: RegionSignal], now: Date, events: inout [Event]) -> String {
        var rt = self.state.regions[id]!
        defer { self.state.regions[id] = rt }
        rt.admin = .enabled
        rt.cooldownUntil = nil
        rt.alert = nil
        if rt.phase == .serving && rt.share >= 1 { return " (it already had its traffic)" }
        if signals[id]?.status == .healthy {
            // The operator's word replaces the recovery window, the cooldown and the lag guard.
            self.startFailback(&rt, id: id, now: now, events: &events)
            return "; traffic returns"
        }
        rt.phase = .failedOver(trigger: .manual, since: now)
        return "; it gets traffic once it has been healthy for the recovery window"
    }

    private mutating func failover(
        from: String, to: String?, strategy: FailoverStrategy?, overrideResidency: Bool, reason: String, signals: [String: RegionSignal], now: Date,
        action: inout OperatorAction
    ) throws(ControlError) -> String {
        let source = try self.known(from)
        guard self.state.regions[from]!.admin != .disabled else { throw ControlError(.badRequest, "\(from) is disabled; it has no traffic to move") }
        var override: String?
        if let to {
            try self.known(to)
            guard to != from else { throw ControlError(.badRequest, "cannot fail \(from) over to itself") }
            guard self.state.regions[to]?.admin == .enabled else { throw ControlError(.badRequest, "\(to) is \(self.state.regions[to]!.admin.rawValue); enable it first") }
            if !source.mayMove(to: to) {
                let allowed = source.allowedTargets!.joined(separator: ", ")
                guard overrideResidency else {
                    throw ControlError(
                        .residency, "\(from)'s traffic may only go to \(allowed); sending it to \(to) breaks its residency. Add --override-residency with a reason to do it anyway")
                }
                guard !reason.trimmingSpaces.isEmpty else {
                    throw ControlError(.badRequest, "--override-residency needs a reason: it is recorded with the move")
                }
                override = reason
            }
        } else {
            try self.requireTarget(for: source, signals: signals, verb: "fail over")
        }
        let chosen = strategy ?? (self.strategy(of: from) == .manual ? .automatic : self.strategy(of: from))
        var rt = self.state.regions[from]!
        rt.admin = .drained
        rt.maintenance = nil
        rt.target = to
        rt.strategy = chosen
        rt.residencyOverride = override
        rt.alert = nil
        rt.cooldownUntil = now.addingTimeInterval(self.cooldown(of: from).seconds)
        self.beginMoveAway(&rt, trigger: .manual, strategy: chosen, now: now)
        self.state.regions[from] = rt
        action.trigger = .manual
        action.strategy = chosen
        action.target = to
        action.residencyOverride = override
        return "operator failover of \(from)\(to.map { " to \($0)" } ?? "") (\(chosen.rawValue))\(override == nil ? "" : ", overriding its residency"): \(reason)"
    }

    /// The baselines `set-weights` asks for, checked: every enabled region named, each a
    /// whole number in range, at least one above 0.
    private func checkedWeights(_ weights: [String: Int]) throws(ControlError) -> [String: Int] {
        for id in weights.keys.sorted() { try self.known(id) }
        for (id, weight) in weights.sorted(by: { $0.key < $1.key }) where !(0...FailoverRegion.maximumWeight).contains(weight) {
            throw ControlError(.badRequest, "weight of \(id) is \(weight); use a whole number from 0 to \(FailoverRegion.maximumWeight)")
        }
        let enabled = self.regions.filter { self.state.regions[$0.id]?.admin != .disabled }.map(\.id)
        let missing = enabled.filter { weights[$0] == nil }
        guard missing.isEmpty else {
            throw ControlError(
                .badRequest,
                "set-weights replaces every baseline at once; name every enabled region (missing: \(missing.joined(separator: ", "))). Weights are relative: eu=1 us=2 sends a third to eu"
            )
        }
        var merged = self.state.weightOverride ?? [:]
        for region in self.regions where merged[region.id] == nil { merged[region.id] = region.weight }
        merged.merge(weights) { _, new in new }
        guard enabled.contains(where: { (merged[$0] ?? 0) > 0 }) else { throw ControlError(.badRequest, "at least one enabled region needs a weight above 0") }
        return merged
    }
}
