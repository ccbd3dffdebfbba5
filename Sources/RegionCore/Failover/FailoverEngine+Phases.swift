import FoundationEssentials

/// One method per phase: what a round does to a region in that phase.
extension FailoverEngine {
    mutating func advance(_ region: FailoverRegion, signal: RegionSignal, targets: PlanCalculator, now: Date, events: inout [Event]) {
        let id = region.id
        guard var rt = self.state.regions[id] else { return }
        defer { self.state.regions[id] = rt }
        if rt.admin == .disabled {
            rt.share = 0
            return
        }
        switch rt.phase {
        case .serving:
            self.serving(region, &rt, signal, targets, now, &events)
        case .failingOver(let trigger, let since, let next):
            self.failingOver(region, &rt, signal, targets, trigger: trigger, since: since, next: next, now, &events)
        case .draining(let trigger, let since, let until):
            self.draining(id, &rt, signal, trigger: trigger, since: since, until: until, now, &events)
        case .failedOver:
            self.failedOver(id, &rt, signal, now, &events)
        case .recovering(let since, let until):
            self.recovering(id, &rt, signal, since: since, until: until, now, &events)
        case .awaitingFailback:
            self.awaitingFailback(id, &rt, signal, now, &events)
        case .failingBack(let next):
            self.failingBack(id, &rt, signal, next: next, now, &events)
        }
    }

    private var pinned: Bool { self.state.pin != nil }

    private func serving(_ region: FailoverRegion, _ rt: inout RegionRuntime, _ signal: RegionSignal, _ targets: PlanCalculator, _ now: Date, _ events: inout [Event]) {
        let id = region.id
        guard signal.failing, rt.admin == .enabled else {
            if case .blocked? = rt.alert { rt.alert = nil }
            return
        }
        let trigger = signal.firedTrigger
        if let blocked = self.blockReason(region, rt, targets: targets, now: now) {
            if rt.alert != .blocked(blocked) {
                rt.alert = .blocked(blocked)
                events.append(
                    self.event(
                        id, "region \(id) is \(signal.status.rawValue) (\(trigger.rawValue)) but traffic stays: \(blocked)",
                        .failoverBlocked(FailoverHeld(trigger: trigger, reason: blocked, status: signal.status, strategy: self.strategy(of: id))), now))
            }
            return
        }
        rt.alert = nil
        rt.cooldownUntil = now.addingTimeInterval(self.cooldown(of: id).seconds)
        let strategy = self.strategy(of: id)
        self.beginMoveAway(&rt, trigger: trigger, strategy: strategy, now: now)
        let rung = targets.rung(for: region) ?? .healthy
        let started = EventPayload.failoverStarted(FailoverStart(trigger: trigger, strategy: strategy, share: rt.share, rung: rung))
        let whither = rung == .degraded ? " to \(targets.targets(for: region).map(\.id).joined(separator: ", ")) (degraded: best available)" : ""
        switch strategy {
        case .gradual:
            events.append(self.event(id, "region \(id) failing over gradually (\(trigger.rawValue))\(whither): keeps \(percent(rt.share)) of its share", started, now))
        case .graceful:
            events.append(
                self.event(
                    id, "region \(id) failing over gracefully (\(trigger.rawValue))\(whither): no new traffic; complete once its sessions have drained", started, now))
        case .automatic, .cascading, .manual:
            events.append(self.event(id, "region \(id) failed over (\(trigger.rawValue), \(strategy.rawValue)): its whole share moved\(whither)", started, now))
        }
    }

    private func failingOver(
        _ region: FailoverRegion, _ rt: inout RegionRuntime, _ signal: RegionSignal, _ targets: PlanCalculator, trigger: Trigger, since: Date, next: Date,
        _ now: Date, _ events: inout [Event]
    ) {
        let id = region.id
        let step = self.settings.gradualStep
        if rt.admin == .enabled, signal.status == .healthy, signal.passing {
            let until = now.addingTimeInterval(self.settings.recoveryWindow.seconds)
            rt.phase = .recovering(since: now, until: until)
            events.append(
                self.event(
                    id, "region \(id) is healthy again mid-move; the move stops and the recovery window starts", .recoveryStarted(RecoveryWindow(until: until, share: rt.share)),
                    now))
            return
        }
        guard now >= next, !self.pinned else { return }
        if !targets.hasTarget(for: region) {
            if self.settings.gradualReverse {
                rt.share = min(1, rt.share + step)
                events.append(self.event(id, "no healthy target left: moving \(id)'s share back (keeps \(percent(rt.share)))", .failoverHalted(ShareChange(share: rt.share)), now))
                rt.phase = rt.share >= 1 ? .serving : .failingOver(trigger: trigger, since: since, nextStep: now.addingTimeInterval(self.settings.gradualInterval.seconds))
            } else if rt.alert != .halted {
                rt.alert = .halted
                events.append(self.event(id, "no healthy target left: the move of \(id) halts at \(percent(rt.share))", .failoverHalted(ShareChange(share: rt.share)), now))
            }
            return
        }
        rt.alert = nil
        rt.share = max(0, rt.share - step)
        if rt.share == 0 {
            rt.phase = .failedOver(trigger: trigger, since: since)
            events.append(self.event(id, "region \(id) failed over: its whole share has moved", .failoverCompleted(FailoverEnd(trigger: trigger)), now))
        } else {
            let interval = self.settings.gradualInterval.seconds
            let planned = next.addingTimeInterval(interval)
            rt.phase = .failingOver(trigger: trigger, since: since, nextStep: planned < now ? now.addingTimeInterval(interval) : planned)
            events.append(self.event(id, "region \(id) keeps \(percent(rt.share)) of its share", .failoverStep(FailoverStepTaken(trigger: trigger, share: rt.share)), now))
        }
    }

    private func draining(_ id: String, _ rt: inout RegionRuntime, _ signal: RegionSignal, trigger: Trigger, since: Date, until: Date, _ now: Date, _ events: inout [Event]) {
        if rt.admin == .enabled, signal.status == .healthy, signal.passing {
            let until = now.addingTimeInterval(self.settings.recoveryWindow.seconds)
            rt.phase = .recovering(since: now, until: until)
            events.append(
                self.event(id, "region \(id) is healthy again while draining; the recovery window starts", .recoveryStarted(RecoveryWindow(until: until, share: rt.share)), now))
            return
        }
        guard now >= until else { return }
        rt.phase = .failedOver(trigger: trigger, since: since)
        events.append(
            self.event(
                id, "region \(id) failed over: drain_timeout (\(formatDuration(self.settings.drainTimeout))) passed with sessions still open",
                .failoverCompleted(FailoverEnd(trigger: trigger, drained: .timeout)), now))
    }

    private func failedOver(_ id: String, _ rt: inout RegionRuntime, _ signal: RegionSignal, _ now: Date, _ events: inout [Event]) {
        guard rt.admin == .enabled, signal.status == .healthy, signal.passing else { return }
        let until = now.addingTimeInterval(self.settings.recoveryWindow.seconds)
        rt.phase = .recovering(since: now, until: until)
        events.append(
            self.event(
                id, "region \(id) is healthy again; traffic returns if it stays healthy until \(until.formatted(Date.ISO8601FormatStyle()))",
                .recoveryStarted(RecoveryWindow(until: until, share: rt.share)), now))
    }

    private func recovering(_ id: String, _ rt: inout RegionRuntime, _ signal: RegionSignal, since: Date, until: Date, _ now: Date, _ events: inout [Event]) {
        if signal.failing {
            rt.phase = .failedOver(trigger: signal.firedTrigger, since: now)
            events.append(self.event(id, "region \(id) failed again during its recovery window", .recoveryFailed(RecoveryFailure(trigger: signal.firedTrigger)), now))
            return
        }
        if !signal.passing || signal.status != .healthy {
            let restarted = now.addingTimeInterval(self.settings.recoveryWindow.seconds)
            rt.phase = .recovering(since: now, until: restarted)
            events.append(
                self.event(
                    id, "region \(id) had a failed evaluation \(wholeNumber(now.timeIntervalSince(since))) s into its recovery window; the window restarts",
                    .recoveryRestarted(RecoveryWindow(until: restarted, share: rt.share)), now))
            return
        }
        guard now >= until else { return }
        rt.phase = .awaitingFailback(since: now)
        events.append(self.event(id, "region \(id) stayed healthy for the whole recovery window", .recoveryCompleted, now))
        self.tryFailback(&rt, id: id, signal: signal, now: now, events: &events)
    }

    private func awaitingFailback(_ id: String, _ rt: inout RegionRuntime, _ signal: RegionSignal, _ now: Date, _ events: inout [Event]) {
        if signal.failing {
            rt.phase = .failedOver(trigger: signal.firedTrigger, since: now)
            events.append(self.event(id, "region \(id) failed again while waiting to fail back", .recoveryFailed(RecoveryFailure(trigger: signal.firedTrigger)), now))
            return
        }
        if !signal.passing || signal.status != .healthy {
            let until = now.addingTimeInterval(self.settings.recoveryWindow.seconds)
            rt.phase = .recovering(since: now, until: until)
            events.append(
                self.event(id, "region \(id) had a failed evaluation before failing back; the window restarts", .recoveryRestarted(RecoveryWindow(until: until, share: rt.share)), now))
            return
        }
        self.tryFailback(&rt, id: id, signal: signal, now: now, events: &events)
    }

    private func failingBack(_ id: String, _ rt: inout RegionRuntime, _ signal: RegionSignal, next: Date, _ now: Date, _ events: inout [Event]) {
        if signal.failing {
            // Losing traffic again is a new failover, allowed: the cooldown ended before failback began.
            rt.share = 0
            rt.phase = .failedOver(trigger: signal.firedTrigger, since: now)
            rt.cooldownUntil = now.addingTimeInterval(self.cooldown(of: id).seconds)
            events.append(
                self.event(
                    id, "region \(id) failed during failback; its share moves away again",
                    .failoverStarted(FailoverStart(trigger: signal.firedTrigger, strategy: self.strategy(of: id), share: 0)), now))
            return
        }
        guard now >= next, !self.pinned else { return }
        let ramp = self.failbackSteps(of: id)
        rt.share = min(1, rt.share + ramp.step)
        if rt.share >= 1 - 1e-9 {
            Self.backInService(&rt)
            events.append(self.event(id, "region \(id) has its whole share back", .failbackCompleted, now))
        } else {
            rt.phase = .failingBack(nextStep: now.addingTimeInterval(ramp.interval.seconds))
            events.append(self.event(id, "region \(id) gets \(percent(rt.share)) of its share back", .failbackStep(ShareChange(share: rt.share)), now))
        }
    }

    /// Why an automatic failover of a region cannot happen now, if it cannot.
    func blockReason(_ region: FailoverRegion, _ rt: RegionRuntime, targets: PlanCalculator, now: Date) -> String? {
        let id = region.id
        if self.strategy(of: id) == .manual { return "strategy is manual; move it with `regionctl failover \(id)`" }
        if let pin = self.state.pin { return "automatic moves are pinned (\(pin.reason))" }
        if let cooldown = rt.cooldownUntil, now < cooldown {
            return "cooldown until \(cooldown.formatted(Date.ISO8601FormatStyle()))"
        }
        if !targets.hasTarget(for: region) {
            // Name why each region it may go to is out, so the alert says what to fix.
            let candidates = self.regions.filter { $0.id != id && region.mayMove(to: $0.id) }
            let why = candidates.compactMap { c in targets.exclusion(c.id).map { "\(c.id): \($0)" } }.joined(separator: "; ")
            let detail = why.isEmpty ? "" : " (\(why))"
            if let allowed = region.allowedTargets { return "no region it may fail over to (\(allowed.joined(separator: ", "))) can take its traffic\(detail)" }
            return "no healthy region can take its traffic\(detail)"
        }
        return nil
    }

    /// Starts moving a region's traffic away: one gradual step, a drain, or all of it at once.
    func beginMoveAway(_ rt: inout RegionRuntime, trigger: Trigger, strategy: FailoverStrategy, now: Date) {
        switch strategy {
        case .gradual where rt.share > 0:
            rt.share = max(0, rt.share - self.settings.gradualStep)
            rt.phase =
                rt.share == 0
                ? .failedOver(trigger: trigger, since: now)
                : .failingOver(trigger: trigger, since: now, nextStep: now.addingTimeInterval(self.settings.gradualInterval.seconds))
        case .graceful:
            rt.share = 0
            rt.phase = .draining(trigger: trigger, since: now, until: now.addingTimeInterval(self.settings.drainTimeout.seconds))
        default:
            rt.share = 0
            rt.phase = .failedOver(trigger: trigger, since: now)
        }
    }

    /// Starts failback if nothing holds it; otherwise leaves the region awaiting it.
    func tryFailback(_ rt: inout RegionRuntime, id: String, signal: RegionSignal, now: Date, events: inout [Event]) {
        if rt.admin != .enabled { return }
        var hold: String?
        if self.settings.failback == .manual {
            hold = "failback is manual; approve with `regionctl enable \(id)`"
        } else if let pin = self.state.pin {
            hold = "automatic moves are pinned (\(pin.reason))"
        } else if let cooldown = rt.cooldownUntil, now < cooldown {
            hold = "cooldown until \(cooldown.formatted(Date.ISO8601FormatStyle()))"
        } else if let maxLag = self.region(id)?.maxLag {
            if let lag = signal.lag {
                if lag >= maxLag { hold = "replication lag \(formatSeconds(lag)) >= max_lag \(formatSeconds(maxLag))" }
            } else {
                hold = "replication lag unknown (max_lag \(formatSeconds(maxLag)))"
            }
        }
        if let hold {
            if rt.alert != .failbackHeld(hold) {
                rt.alert = .failbackHeld(hold)
                events.append(self.event(id, "region \(id) waits to fail back: \(hold)", .failbackHeld(Because(reason: hold)), now))
            }
            return
        }
        self.startFailback(&rt, id: id, now: now, events: &events)
    }

    func startFailback(_ rt: inout RegionRuntime, id: String, now: Date, events: inout [Event]) {
        rt.alert = nil
        let ramp = self.failbackSteps(of: id)
        rt.share = min(1, rt.share + ramp.step)
        if rt.share < 1 - 1e-9 {
            rt.phase = .failingBack(nextStep: now.addingTimeInterval(ramp.interval.seconds))
            events.append(self.event(id, "region \(id) fails back step by step: \(percent(rt.share)) of its share", .failbackStep(ShareChange(share: rt.share)), now))
            return
        }
        Self.backInService(&rt)
        events.append(self.event(id, "region \(id) has its whole share back", .failbackCompleted, now))
    }

    static func backInService(_ rt: inout RegionRuntime) {
        rt.share = 1
        rt.phase = .serving
        rt.strategy = nil
        rt.target = nil
        rt.residencyOverride = nil
    }
}
