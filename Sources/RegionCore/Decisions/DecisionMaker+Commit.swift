import FoundationEssentials

/// Making a decision and committing it: fenced in etcd (cluster), recorded in the
/// history, then applied and answered.
extension DecisionMaker {
    /// One automatic round over every region, if a decision may be made now.
    mutating func automaticRound(_ now: Date) -> [DecisionAction] {
        guard case .ready = self.stage else {
            self.roundWanted = true
            return []
        }
        // A suspicion that begins or ends is recorded with the round's decision, or alone
        // when no decision may be made (it began: the round is held).
        let said = self.noteSuspicion(now)
        if !said.isEmpty, self.standstill != nil {
            let plan = self.engine.state.plan
            return self.decide(.automatic, now: now) { _ in Decision(plan: plan, planChanged: false, events: said) }
        }
        return self.automatic(now) { engine, signals in
            var decision = engine.step(signals, now: now)
            decision.events = said + decision.events
            return decision
        }
    }

    mutating func automatic(_ now: Date, _ body: (inout FailoverEngine, [String: RegionSignal]) -> Decision) -> [DecisionAction] {
        guard case .ready(let retryAt) = self.stage else {
            self.roundWanted = true
            return []
        }
        // A retry that is due is this round.
        if let retryAt, retryAt <= now { self.stage = .ready(retryAt: nil) }
        guard self.standstill == nil else { return [] }
        let signals = self.signals
        return self.decide(.automatic, now: now) { engine throws(ControlError) in body(&engine, signals) }
    }

    mutating func command(_ request: OperatorRequest, now: Date) -> [DecisionAction] {
        if request.command == .confirm { return self.confirm(request, now: now) }
        switch self.role {
        case .follower(let leader):
            let where_ = leader.map { "the leader is \($0): run the command against its regiond" } ?? "no leader is elected yet: try again in a few seconds"
            return [.reply(request.id, .refused(ControlError(.notLeader, "this regiond follows the cluster's leader and makes no decision; \(where_)")))]
        case .leader where !self.sessionLive:
            return [.reply(request.id, .refused(ControlError(.unavailable, "etcd does not answer, so no decision can be committed; nothing changed. Try again once it does")))]
        case .alone, .leader:
            let signals = self.signals
            return self.decide(.command(request.id), now: now) { engine throws(ControlError) in
                try engine.apply(request.command, by: request.uid, reason: request.reason, signals: signals, now: now)
            }
        }
    }

    /// Runs one engine call on a copy and starts committing what it decided.
    mutating func decide(_ origin: Origin, now: Date, _ body: (inout FailoverEngine) throws(ControlError) -> Decision) -> [DecisionAction] {
        var next = self.engine
        let decision: Decision
        do {
            decision = try body(&next)
        } catch {
            if case .command(let id) = origin { return [.reply(id, .refused(error))] }
            return []
        }
        self.stage = .ready(retryAt: nil)
        if next.state == self.engine.state && decision.events.isEmpty {
            self.engine = next  // nothing to record (the engine may only have warmed up)
            if case .command(let id) = origin { return [.reply(id, .done)] }
            return []
        }
        let pending = Pending(engine: next, events: decision.events, planChanged: decision.planChanged, origin: origin)
        if self.role == .leader {
            self.stage = .fencing(pending)
            return [.commitFenced(next.state, decision.events)]
        }
        self.stage = .recording(pending)
        return [.record(DecisionRecord(state: next.state, events: decision.events))]
    }

    /// A decision committed to etcd: recorded here once per revision, in order; its plan applied.
    mutating func adopt(_ committed: CommittedDecision, now: Date) -> [DecisionAction] {
        guard committed.revision > self.recordedRevision else { return [] }
        var next = self.engine
        if let state = committed.state {
            next = FailoverEngine(settings: self.engine.settings, regions: self.engine.regions, state: state)
        }
        let pending = Pending(
            engine: next, events: committed.stampedEvents, planChanged: next.state.plan != self.engine.state.plan, origin: .adopted(committed.revision),
            revision: committed.revision)
        self.stage = .recording(pending)
        return [.record(DecisionRecord(state: committed.state, events: pending.events, revision: committed.revision))]
    }

    mutating func fenced(_ outcome: FenceOutcome, now: Date) -> [DecisionAction] {
        guard case .fencing(var pending) = self.stage else { return [] }
        switch outcome {
        case .committed(let revision):
            pending.revision = revision
            pending.events = CommittedDecision(state: pending.engine.state, events: pending.events, leader: self.observer ?? "", revision: revision).stampedEvents
            self.stage = .recording(pending)
            return [.record(DecisionRecord(state: pending.engine.state, events: pending.events, revision: revision))]
        case .refused(let why):
            // Never made: nothing acts on it. Asked again while this instance leads.
            self.stage = .ready(retryAt: self.role == .leader ? now.addingTimeInterval(1) : nil)
            var actions: [DecisionAction] = []
            if case .command(let id) = pending.origin {
                actions.append(.reply(id, .refused(ControlError(.unavailable, "the decision was not committed to etcd (\(why)); nothing changed"))))
            }
            return actions + self.resume(now: now)
        }
    }

    mutating func recorded(_ outcome: RecordOutcome, now: Date) -> [DecisionAction] {
        guard case .recording(let pending) = self.stage else { return [] }
        self.stage = .ready(retryAt: nil)
        var actions: [DecisionAction] = []
        switch outcome {
        case .recorded, .alreadyRecorded:
            self.recording = true
            self.commit(pending, &actions)
        case .failed(let error):
            let wasRecording = self.recording
            self.recording = false
            let committedElsewhere = pending.revision != nil
            let refuse = !committedElsewhere && (self.engine.settings.refuseUnrecorded || pending.origin != .automatic)
            if refuse {
                let kinds = pending.events.map(\.kind)
                if wasRecording || pending.origin != .automatic {
                    actions.append(
                        .publish([
                            Event(
                                time: now, message: "cannot write the state database (\(error)); refusing decisions that cannot be recorded, traffic stays as it is",
                                .historyUnavailable(HistoryFailure(error: error, refused: kinds)))
                        ]))
                }
                if case .command(let id) = pending.origin {
                    actions.append(.reply(id, .refused(ControlError(.internal, "the decision could not be recorded in the state database, so it was not applied"))))
                } else {
                    self.stage = .ready(retryAt: now.addingTimeInterval(1))
                }
            } else {
                // Acted on anyway: in cluster mode etcd holds it and every follower applies it
                // (refusing it here would leave this instance behind the fleet); alone, the
                // operator chose `refuse_unrecorded = false`.
                var published: [Event] = []
                if wasRecording {
                    let message =
                        committedElsewhere
                        ? "cannot write the local state database (\(error)); decisions are committed to etcd and applied, the local history misses them"
                        : "cannot write the state database (\(error)); acting on decisions anyway (refuse_unrecorded = false)"
                    published.append(Event(time: now, message: message, .historyUnavailable(HistoryFailure(error: error))))
                }
                actions.append(.publish(published + pending.events))
                self.commit(pending, &actions)
            }
        }
        return actions + self.resume(now: now)
    }

    /// The decision is in force: the engine takes it, its plan goes to the targets, the
    /// operator hears back. (Its events were delivered by the history, or just before.)
    mutating func commit(_ pending: Pending, _ actions: inout [DecisionAction]) {
        self.engine = pending.engine
        if let suspicion = pending.suspicion { self.suspicion = suspicion }
        if let revision = pending.revision { self.recordedRevision = max(self.recordedRevision, revision) }
        if pending.planChanged { actions.append(.apply(pending.engine.state.plan)) }
        if case .command(let id) = pending.origin { actions.append(.reply(id, .done)) }
    }

    /// The decision path is idle again: what waited goes on, in order, until one of them
    /// starts a commit; then a round, if one was asked for meanwhile.
    mutating func resume(now: Date) -> [DecisionAction] {
        var actions: [DecisionAction] = []
        while self.isIdle, !self.deferred.isEmpty {
            actions += self.takeWhileIdle(self.deferred.removeFirst(), now: now)
        }
        if self.isIdle, self.roundWanted {
            self.roundWanted = false
            actions += self.automaticRound(now)
        }
        return actions
    }
}
