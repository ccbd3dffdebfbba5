import Foundation
import Logging
import RegionCore
import Synchronization

extension ClusterMember {
    /// Reads every key of the cluster, then follows each change. On any error (a member
    /// down, a compaction) it starts over with a fresh read.
    ///
    /// A watch on a member cut off from the others stays open and silent, so when etcd
    /// answers again after an outage the watch is started over too (``restartWatch()``).
    func watchLoop() async {
        while !Task.isCancelled {
            let once = Task { await self.watchOnce() }
            self.watch = once
            await withTaskCancellationHandler { await once.value } onCancel: { once.cancel() }
            if Task.isCancelled { return }
            // Started over because etcd answers again: at once, the instance is behind.
            // Ended by an error: after a pause, so a failing etcd is not asked in a loop.
            if self.watchRestarting {
                self.watchRestarting = false
                continue
            }
            try? await self.time.clock.sleep(for: self.settings.renewInterval)
        }
    }

    private func watchOnce() async {
        do {
            let (revision, entries) = try await self.etcd.range(prefix: self.keys.all)
            self.heartbeats = [:]
            self.observations = [:]
            self.candidates = [:]
            self.writes = [:]
            for entry in entries { self.apply(.put(entry)) }
            // What etcd holds of this instance's own observations is what the others read:
            // where it is not what was last written (a late write landed meanwhile), write again.
            for (region, observation) in self.observations[self.settings.name] ?? [:] where self.published[region] != observation.signal {
                self.published[region] = nil
            }
            // Every decision committed while the watch was down, in order, not only the latest.
            self.forwardDecisions(entries)
            // What was read may differ from what was judged before (changes made while the
            // watch was down): judge every region again.
            self.refreshFleet()
            for try await changes in self.etcd.watch(prefix: self.keys.all, after: revision) {
                for change in changes { self.apply(change) }
                self.forwardDecisions(changes.compactMap { if case .put(let entry) = $0 { entry } else { nil } })
                if self.local.contains(where: { self.published[$0.key] == nil }) { try? await self.publishChanged() }
                // A changed observation is judged at once, not at the next tick: the
                // quorum's decision should cost etcd's round trip and no more.
                let changed = changes.compactMap { change -> String? in
                    if case .observation(let region, _) = self.keys.kind(of: change.key) { region } else { nil }
                }
                if !changed.isEmpty { self.refreshFleet(only: Set(changed)) }
            }
        } catch {
            self.logger.debug("cluster: watch ended: \(error)")
        }
    }

    func restartWatch() {
        self.watchRestarting = true
        self.watch?.cancel()
    }

    /// One key changed. What a peer wrote is decoded defensively: a value that does not
    /// decode is logged and ignored, never trusted and never fatal.
    func apply(_ change: EtcdChange) {
        switch change {
        case .put(let entry):
            switch self.keys.kind(of: entry.key) {
            case .state, .decision:
                break  // forwardDecisions
            case .request(let id):
                self.take(entry, id: id)
            case .answer(let id):
                self.answered(id, entry)
            case .leader:
                self.candidates[entry.key] = (entry.createRevision, String(decoding: entry.value, as: UTF8.self))
            case .observer(let name):
                guard let beat = try? JSONDecoder().decode(Heartbeat.self, from: entry.value) else {
                    self.logger.warning("cluster: ignoring an unreadable heartbeat at \(entry.key)")
                    return
                }
                guard self.takes(entry, at: beat.at) else { return }
                self.heartbeats[name] = (self.time.now, beat.evaluating)
            case .observation(let region, let observer):
                guard let observation = try? JSONDecoder().decode(Observation.self, from: entry.value) else {
                    self.logger.warning("cluster: ignoring an unreadable observation at \(entry.key)")
                    return
                }
                guard self.takes(entry, at: observation.at) else {
                    // One of this instance's own writes that timed out landed late, over a
                    // newer one: write what it sees now again.
                    if observer == self.settings.name { self.published[region] = nil }
                    return
                }
                self.observations[observer, default: [:]][region] = observation
            case .other:
                break
            }
        case .delete(let key, _):
            self.writes[key] = nil
            switch self.keys.kind(of: key) {
            case .leader: self.candidates[key] = nil
            case .observer(let name): self.heartbeats[name] = nil
            case .observation(let region, let observer): self.observations[observer]?[region] = nil
            case .state, .decision, .request, .answer, .other: break
            }
        }
    }

    /// Whether a peer's write replaces what is held for its key (``PeerWrite``); notes it if so.
    func takes(_ entry: EtcdEntry, at: Date) -> Bool {
        let write = PeerWrite(createRevision: entry.createRevision, at: at)
        guard write.supersedes(self.writes[entry.key]) else {
            self.logger.notice("cluster: ignoring a late write to \(entry.key) at revision \(entry.modRevision): older than the value held")
            return false
        }
        self.writes[entry.key] = write
        return true
    }

    /// Reads the decision log and the state now, and hands the controller every decision
    /// it has not had yet (a new leader does this before its first decision).
    func catchUp() async throws {
        let (_, log) = try await self.etcd.range(prefix: self.keys.decisions)
        let (_, state) = try await self.etcd.range(prefix: self.keys.state)
        self.forwardDecisions(log + state)
    }

    /// Hands the controller the committed decisions among `entries` that are newer than
    /// any it has had, in revision order; the state goes with the decision that wrote it.
    /// What a peer wrote is decoded defensively: a value that does not decode is logged
    /// and skipped.
    func forwardDecisions(_ entries: [EtcdEntry]) {
        var decisions: [Int64: CommittedDecision] = [:]
        var state: (revision: Int64, decision: CommittedDecision)?
        for entry in entries where entry.key == self.keys.state {
            self.stateRevision = max(self.stateRevision, entry.modRevision)
        }
        for entry in entries where entry.modRevision > self.committedRevision {
            let kind = self.keys.kind(of: entry.key)
            guard kind == .state || { if case .decision = kind { true } else { false } }() else { continue }
            guard var decision = try? JSONDecoder().decode(CommittedDecision.self, from: entry.value) else {
                self.logger.error("cluster: the committed decision at \(entry.key), revision \(entry.modRevision), does not decode; skipped")
                continue
            }
            decision.revision = entry.modRevision
            if kind == .state {
                state = (entry.modRevision, decision)
            } else {
                decision.state = nil
                decisions[entry.modRevision] = decision
            }
        }
        if let state {
            // The log entry of the same transaction takes the state; a state written without
            // a log entry (a regiond before the log) stands for its decision alone.
            if decisions[state.revision] != nil {
                decisions[state.revision]?.state = state.decision.state
            } else {
                decisions[state.revision] = state.decision
            }
        }
        for revision in decisions.keys.sorted() {
            guard let decision = decisions[revision] else { continue }
            self.committedRevision = max(self.committedRevision, revision)
            self.committedSequence = max(self.committedSequence, decision.sequence)
            self.controller.adopt(decision)
        }
    }

    /// The leader as etcd's election sees it: the candidate with the oldest key.
    var leaderName: String? {
        self.candidates.values.min { $0.revision < $1.revision }?.name
    }

    /// Every 200 ms (and after each watched change of an observation): the quorum rule over
    /// all observations, the changed fleet signals to the controller, observers joined or
    /// left (a heartbeat going stale is seen here), and the report for operators.
    ///
    /// Only the regions whose observations changed are judged again, unless the set of live
    /// observers changed: at 1,000 regions a full round per watched change was quadratic.
    func fleetLoop() async {
        while !Task.isCancelled {
            let now = self.time.now
            let live = Set(self.reports.filter { self.fleetView.isLive($0, now: now) }.map(\.name))
            self.refreshFleet(only: live == self.live ? [] : nil)
            try? await self.time.clock.sleep(for: .milliseconds(200))
        }
    }

    var reports: [ObserverReport] {
        self.heartbeats.map { name, beat in
            ObserverReport(name: name, heardAt: beat.heardAt, evaluating: beat.evaluating, observations: self.observations[name] ?? [:])
        }
    }

    /// Judges `only` these regions again (nil: every region this instance monitors).
    func refreshFleet(only regions: Set<String>? = nil) {
        let now = self.time.now
        let reports = self.reports
        var events: [Event] = []
        var fleet = self.fleet
        var changed: [(String, RegionSignal)] = []
        let judging = (regions.map { $0.filter { self.local[$0] != nil } } ?? Set(self.local.keys)).sorted()
        if regions == nil { fleet = fleet.filter { self.local[$0.key] != nil } }
        for region in judging {
            let judged = self.fleetView.judge(region: region, reports: reports, now: now)
            fleet[region] = judged
            if self.submitted[region] != judged.signal {
                self.submitted[region] = judged.signal
                changed.append((region, judged.signal))
            }
            let before = self.fleet[region]
            // An event when the judgement or who sees the region failing changes (not for every
            // observer joining: at start that was one per region per observer).
            if before?.signal.status != judged.signal.status || before?.failing != judged.failing {
                events.append(
                    Event(
                        time: now, region: region,
                        message: "\(region): fleet status \(judged.signal.status.rawValue), \(judged.failing.count) of \(judged.observers.count) observers see it failing (\(judged.required) needed)",
                        .fleetStatusChanged(
                            FleetJudgement(
                                status: judged.signal.status, previousStatus: before?.signal.status, observers: judged.observers, failing: judged.failing,
                                required: judged.required))))
            }
        }
        let live = Set(reports.filter { self.fleetView.isLive($0, now: now) }.map(\.name))
        for name in live.subtracting(self.live).sorted() {
            events.append(Event(time: now, message: "observer \(name) joined the cluster", .observerJoined(ObserverNote(observer: name))))
        }
        for name in self.live.subtracting(live).sorted() {
            events.append(
                Event(time: now, message: "observer \(name) left the cluster (heartbeat stale or lease expired); its view no longer counts", .observerLeft(ObserverNote(observer: name))))
        }
        self.live = live
        self.fleet = fleet
        if self.lease.leadership == nil { self.controller.setRole(.follower(leader: self.leaderName)) }
        // The view first: STATUS= is rewritten on each event and must read the new one.
        self.updateView()
        // The events take their place in the sequence before the signals reach the
        // controller, so any decision they cause comes after them.
        self.bus.post(events)
        for (region, signal) in changed { self.controller.submit(region: region, signal: signal) }
    }

    /// Refreshes what `regionctl status`, `STATUS=` and the page read.
    func updateView() {
        let now = self.time.now
        let reports = self.reports.sorted { $0.name < $1.name }
        let reachable = self.reachable ?? true
        let role: ClusterReport.Role = !reachable ? .noQuorum : (self.lease.leadership != nil ? .leader : .follower)
        var report = ClusterReport(
            name: self.settings.name, role: role, leader: self.leaderName, etcdReachable: reachable,
            observers: reports.map {
                .init(name: $0.name, age: max(0, now.timeIntervalSince($0.heardAt)), live: self.fleetView.isLive($0, now: now), evaluating: $0.evaluating)
            },
            fleet: self.fleet, committedRevision: self.committedRevision == 0 ? nil : self.committedRevision, quorum: self.settings.quorum.description)
        report.etcdError = reachable ? nil : self.etcdError
        self.view.update(report)
    }
}

/// The latest ``ClusterReport``, readable without a hop (status, `STATUS=`, the page).
public final class ClusterView: Sendable {
    private let report = Mutex<ClusterReport?>(nil)

    public init() {}

    public var current: ClusterReport? { self.report.withLock { $0 } }

    func update(_ report: ClusterReport) {
        self.report.withLock { $0 = report }
    }
}
