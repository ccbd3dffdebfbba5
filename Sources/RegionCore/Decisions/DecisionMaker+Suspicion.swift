import FoundationEssentials

/// A lone instance that suspects its own network (``SelfSuspicion``): noted every round,
/// ended by fewer failures or by an operator's `confirm`.
extension DecisionMaker {
    /// Feeds the round's signals to the suspicion; says `observer_suspect` once when it
    /// begins and `observer_suspect_cleared` when it ends (the caller records it).
    mutating func noteSuspicion(_ now: Date) -> [Event] {
        guard self.role == .alone, var suspicion = self.suspicion else { return [] }
        let enabled = self.engine.regions.map(\.id).filter { self.engine.state.regions[$0]?.admin != .disabled }
        let change = suspicion.observe(self.signals, enabled: enabled, now: now)
        self.suspicion = suspicion
        return change.map { [suspicion.event(for: $0, uid: nil, now: now)] } ?? []
    }

    /// `regionctl confirm`: the failures are real; recorded, then automatic decisions
    /// resume at once.
    mutating func confirm(_ request: OperatorRequest, now: Date) -> [DecisionAction] {
        guard self.role == .alone, var suspicion = self.suspicion else {
            return [.reply(request.id, .refused(ControlError(.badRequest, "in cluster mode the quorum of observers judges the regions; there is nothing to confirm")))]
        }
        guard let change = suspicion.confirm() else {
            return [.reply(request.id, .refused(ControlError(.badRequest, "nothing to confirm: this regiond does not suspect itself (see regionctl status)")))]
        }
        let action = OperatorAction(command: OperatorCommand.confirm.name, uid: request.uid, reason: request.reason)
        let said = Event(time: now, message: "operator confirmed the failures are real; automatic decisions resume: \(request.reason)", .operatorCommand(action))
        let events = [said, suspicion.event(for: change, uid: request.uid, now: now)]
        let plan = self.engine.state.plan
        let actions = self.decide(.command(request.id), now: now) { _ in Decision(plan: plan, planChanged: false, events: events) }
        guard case .recording(var pending) = self.stage else { return actions }
        pending.suspicion = suspicion
        self.stage = .recording(pending)
        // The round the confirmation frees runs once it is recorded.
        self.roundWanted = true
        return actions
    }
}

extension SelfSuspicion {
    /// The event that says a suspicion began or ended.
    public func event(for change: SelfSuspicion.Change, uid: UInt32?, now: Date) -> Event {
        switch change {
        case .began(let suspect):
            let detail = ObserverSuspicion(regions: suspect.regions, enabled: suspect.enabled, windowSeconds: self.window.seconds)
            return Event(
                time: now,
                message: "\(suspect.summary): the likeliest cause is this observer's own network; automatic decisions are held until fewer fail or an operator runs regionctl confirm",
                .observerSuspect(detail))
        case .ended(let suspect, let reason):
            let held = max(0, now.timeIntervalSince(suspect.since))
            let why = reason == .confirmed ? "an operator confirmed the failures" : "fewer regions fail"
            return Event(
                time: now, message: "automatic decisions resume: \(why) (held \(formatSeconds(held)))",
                .observerSuspectCleared(SuspicionCleared(reason: reason, uid: uid, heldSeconds: held)))
        }
    }
}

extension SelfSuspicion.Suspect {
    /// `3 of 4 regions (eu, us, ap) began failing within one status window`.
    public var summary: String {
        "\(self.regions.count) of \(self.enabled) regions (\(self.regions.joined(separator: ", "))) began failing within one status window"
    }
}
