import Foundation
import Logging
import RegionCore
import ServiceLifecycle
import Synchronization

/// Cluster mode: this instance's part in the fleet (docs/cluster.md).
///
/// - **Session**: a lease of `lease_ttl`, renewed every `renew_interval`, with this
///   observer's heartbeat. Everything it writes is bound to the lease, so it dies with it.
/// - **Observations**: every change of a local region signal is published.
/// - **Watch**: every key of the cluster, so each instance knows the observers, the
///   leader and the committed state, and applies each committed decision.
/// - **Fleet**: the quorum rule (``FleetView``) over all observations gives the signals
///   the failover controller decides on.
/// - **Election**: etcd's campaign. The leader commits through ``commit(state:events:now:)``,
///   an etcd transaction fenced by its election key, and stops deciding when a renewal
///   fails or the lease could lapse (``LeaderLease``).
public actor ClusterMember<C: Clock>: Service, ClusterFence where C.Duration == Duration {
    let settings: ClusterSettings
    public nonisolated var observerName: String { self.settings.name }
    let keys: ClusterKeys
    let etcd: EtcdClient
    let controller: FailoverController<C>
    let bus: EventBus
    let time: TimeBase<C>
    let logger: Logger
    let view: ClusterView
    /// False while this instance's own evaluations are held (starved).
    let evaluating: @Sendable () -> Bool
    let fleetView: FleetView

    var lease: LeaderLease
    var leaseID: Int64?
    /// Whether etcd answers (nil until the first renewal says).
    var reachable: Bool?
    var etcdError: String?
    /// Heartbeats heard, on this instance's clock.
    var heartbeats: [String: (heardAt: Date, evaluating: Bool)] = [:]
    var observations: [String: [String: Observation]] = [:]
    /// Election keys: creation revision and observer name; the lowest revision leads.
    var candidates: [String: (revision: Int64, name: String)] = [:]
    /// The newest committed decision handed to the controller (or committed here), and its sequence.
    var committedRevision: Int64 = 0
    var committedSequence: Int64 = 0
    /// The revision `<prefix>/state` was last written at, as this instance knows it: a
    /// commit requires it unchanged, so a commit that timed out cannot land after a newer one.
    var stateRevision: Int64 = 0
    /// The writer's stamp of the value held for each peer key (``PeerWrite``).
    var writes: [String: PeerWrite] = [:]
    /// This instance's latest signal per region, and what of it etcd holds.
    var local: [String: RegionSignal] = [:]
    var published: [String: RegionSignal] = [:]
    var submitted: [String: RegionSignal] = [:]
    var live: Set<String> = []
    var fleet: [String: FleetRegion] = [:]
    /// The current watch (one range read and the stream after it).
    var watch: Task<Void, Never>?
    /// The watch was cancelled to start over at once (etcd answers again).
    var watchRestarting = false
    /// A publication of observations is under way (``publishChanged()``).
    var publishing = false
    /// Follower: forwarded commands waiting for the leader's answer (ClusterMember+Forward).
    var answerWaiters: [String: CheckedContinuation<EtcdEntry?, Never>] = [:]
    /// Follower: forwarded commands whose request could not be written, and why.
    var unsent: [String: String] = [:]
    /// Leader: forwarded commands being decided, and those whose commit carried the answer.
    var deciding: [String: Task<Void, Never>] = [:]
    var answeredInCommit: Set<String> = []

    private let signals: AsyncStream<(String, RegionSignal)>
    private let signalsContinuation: AsyncStream<(String, RegionSignal)>.Continuation

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public init(
        settings: ClusterSettings, etcd: EtcdClient, controller: FailoverController<C>, bus: EventBus, time: TimeBase<C>, view: ClusterView, logger: Logger,
        evaluating: @escaping @Sendable () -> Bool
    ) {
        self.settings = settings
        self.keys = settings.keys
        self.etcd = etcd
        self.controller = controller
        self.bus = bus
        self.time = time
        self.view = view
        self.logger = logger
        self.evaluating = evaluating
        self.lease = LeaderLease(ttl: settings.leaseTTL, requestTimeout: settings.requestTimeout)
        self.fleetView = FleetView(quorum: settings.quorum, staleAfter: settings.staleAfter)
        (self.signals, self.signalsContinuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// A local region's signal changed (monitors send only changes). Never blocks.
    public nonisolated func observe(region: String, signal: RegionSignal) {
        self.signalsContinuation.yield((region, signal))
    }

    // MARK: the loops

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.sessionLoop() }
            group.addTask { await self.watchLoop() }
            group.addTask { await self.campaignLoop() }
            group.addTask { await self.fleetLoop() }
            group.addTask {
                // Signals still queued at a stop are dropped: the lease takes what etcd has.
                for await (region, signal) in self.signals where !Task.isCancelled { await self.noteLocal(region, signal) }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        self.signalsContinuation.finish()
        // A clean stop hands over at once: the lease takes the election key and every
        // observation of this instance with it, instead of letting them expire.
        await self.stepDown(reason: "regiond is stopping")
        if let id = self.leaseID { try? await self.etcd.revoke(lease: id) }
        await self.etcd.shutdown()
    }

    /// Grants the lease, renews it every `renew_interval` and writes the heartbeat.
    func sessionLoop() async {
        while !Task.isCancelled {
            await self.renew()
            try? await self.time.clock.sleep(for: self.settings.renewInterval)
        }
    }

    /// One renewal, tried twice before leadership ends: the timing rule
    /// (`renew_interval + 2 × request_timeout ≤ lease_ttl`) leaves room for the second
    /// try, and a member of etcd that dies takes one try to find out (its raft election).
    func renew() async {
        var failure: (any Error)?
        var answered = false
        for _ in 0..<2 {
            let sentAt = self.time.now
            do {
                if let id = self.leaseID {
                    let alive = try await self.etcd.keepAlive(lease: id)
                    answered = true
                    guard alive else {
                        self.leaseID = nil
                        self.published = [:]
                        await self.stepDown(reason: "its lease \(String(id, radix: 16)) expired")
                        failure = Failure(description: "its lease expired")
                        continue
                    }
                } else {
                    let id = try await self.etcd.grant(ttl: self.settings.leaseTTL)
                    answered = true
                    self.leaseID = id
                    self.logger.info("cluster: lease \(String(id, radix: 16)) granted", metadata: ["REGIOND_LEASE": "\(id)"])
                }
                self.lease.renewed(sentAt: sentAt)
                failure = nil
                break
            } catch {
                if Task.isCancelled { return }
                failure = error
            }
        }
        if let failure, self.leaseID != nil || !answered {
            await self.stepDown(reason: "a lease renewal failed twice: \(failure)")
            self.lease.renewalFailed()
            await self.setReachable(false, error: "\(failure)")
            return
        }
        do {
            try await self.writeHeartbeat()
            await self.setReachable(true, error: nil)
        } catch {
            if Task.isCancelled { return }
            await self.setReachable(false, error: "\(error)")
        }
        // What etcd lacks (a write that failed, everything after a new lease).
        try? await self.publishChanged()
    }

    struct Heartbeat: Codable, Sendable {
        var evaluating: Bool
        var at: Date
        var version: String
    }

    func writeHeartbeat() async throws {
        guard let id = self.leaseID else { return }
        let beat = Heartbeat(evaluating: self.evaluating(), at: self.time.now, version: RegiondVersion.string)
        try await self.etcd.put(self.keys.observer(self.settings.name), try JSONEncoder().encode(beat), lease: id)
    }

    func noteLocal(_ region: String, _ signal: RegionSignal) async {
        self.local[region] = signal
        // A failed write is retried with the next renewal (publishChanged writes what etcd lacks).
        try? await self.publishChanged()
    }

    /// Writes each local signal etcd does not hold yet (only changes: etcd is not flooded).
    ///
    /// Up to 100 observations go in one transaction: at start-up 1,000 regions took a
    /// thousand round trips, long enough for the heartbeat to go stale. One publication
    /// runs at a time; a change that arrives meanwhile is taken by its next pass.
    func publishChanged() async throws {
        guard !self.publishing else { return }
        self.publishing = true
        defer { self.publishing = false }
        while let id = self.leaseID {
            let changed = self.local.filter { self.published[$0.key] != $0.value }.sorted { $0.key < $1.key }.prefix(EtcdClient.maxOpsPerTransaction)
            guard !changed.isEmpty else { return }
            let now = self.time.now
            let pairs = try changed.map { region, signal in
                (key: self.keys.observation(region: region, observer: self.settings.name), value: try JSONEncoder().encode(Observation(signal: signal, at: now)))
            }
            try await self.etcd.putAll(pairs, lease: id)
            for (region, signal) in changed { self.published[region] = signal }
        }
    }

    /// etcd answers (this instance's lease renewed and heartbeat written), or not. The
    /// controller hears it after the event is out: a leader's first decision after an outage
    /// always follows its own `etcd_reachable`.
    func setReachable(_ reachable: Bool, error: String?) async {
        self.etcdError = error
        guard reachable != self.reachable else { return }
        let first = self.reachable == nil
        self.reachable = reachable
        self.updateView()
        let now = self.time.now
        if reachable {
            if !first { self.restartWatch() }
            await self.bus.publish(
                Event(
                    time: now,
                    message: first
                        ? "etcd answers; \(self.settings.name) takes part in the cluster" : "etcd answers again; decisions resume once a leader holds the election",
                    .etcdReachable(ObserverNote(observer: self.settings.name))))
            self.controller.setSession(live: true)
        } else {
            self.controller.setSession(live: false)
            await self.bus.publish(
                Event(
                    time: now, message: "etcd is unreachable (\(error ?? "")); keeping the last committed plan, making no decision",
                    .etcdUnreachable(EtcdOutage(observer: self.settings.name, error: error ?? ""))))
        }
    }

    // MARK: leadership

    /// Campaigns whenever etcd answers, this instance has a lease and it does not lead.
    func campaignLoop() async {
        while !Task.isCancelled {
            guard let id = self.leaseID, self.reachable == true, self.lease.leadership == nil else {
                try? await self.time.clock.sleep(for: .milliseconds(100))
                continue
            }
            do {
                let won = try await self.etcd.campaign(election: self.keys.election, lease: id, value: self.settings.name)
                // The campaign can return for a key that expired meanwhile: check it holds.
                guard let holder = try await self.etcd.leader(election: self.keys.election), holder.key == won.key, holder.createRevision == won.revision,
                    self.leaseID == id
                else { continue }
                // A fresh renewal, so the lease guard lets the first decision through.
                let sentAt = self.time.now
                guard try await self.etcd.keepAlive(lease: id) else { continue }
                self.lease.renewed(sentAt: sentAt)
                // Record every decision not recorded here yet and resume from the latest
                // state, before the first decision (the controller takes them in order).
                try await self.catchUp()
                self.lease.elected(won)
                self.updateView()
                self.logger.notice("cluster: leader", metadata: ["REGIOND_REVISION": "\(self.committedRevision)"])
                await self.bus.publish(
                    Event(
                        time: self.time.now, message: "\(self.settings.name) leads the cluster, resuming from the state committed at revision \(self.committedRevision)",
                        .leadershipGained(Leadership(observer: self.settings.name, revision: self.committedRevision, prefix: self.keys.prefix))))
                self.controller.setRole(.leader)
                // Commands followers forwarded while no one led (or to a leader that died).
                if let (_, waiting) = try? await self.etcd.range(prefix: self.keys.requests) {
                    for entry in waiting { if case .request(let id) = self.keys.kind(of: entry.key) { self.take(entry, id: id) } }
                }
                while self.lease.leadership != nil, !Task.isCancelled {
                    try? await self.time.clock.sleep(for: .milliseconds(100))
                }
            } catch {
                if Task.isCancelled { return }
                try? await self.time.clock.sleep(for: self.settings.renewInterval)
            }
        }
    }

    /// Stops deciding now and gives the election key up, so another instance can lead.
    func stepDown(reason: String) async {
        guard let leadership = self.lease.leadership else { return }
        self.lease.deposed()
        self.dropRequests()
        self.controller.setRole(.follower(leader: nil))
        self.updateView()
        self.logger.warning("cluster: no longer the leader: \(reason)")
        await self.bus.publish(
            Event(
                time: self.time.now, message: "\(self.settings.name) stopped leading the cluster: \(reason)",
                .leadershipLost(ObserverNote(observer: self.settings.name, reason: reason))))
        try? await self.etcd.delete(leadership.key)
    }

    /// The fence: commits a decision to etcd only while this instance leads and its lease
    /// cannot lapse first. A refused transaction means another instance leads.
    ///
    /// One transaction writes the state, the decision's entry in the log, and drops the log
    /// entries older than the last ``ClusterKeys/decisionLogLength``.
    public func commit(state: EngineState, events: [Event], answering: ForwardedKey?, now: Date) async throws -> Int64 {
        guard let leadership = self.lease.leadership, self.lease.mayDecide(now: self.time.now) else {
            throw Failure(description: "this instance does not lead the cluster (or its lease may lapse)")
        }
        let sequence = self.committedSequence + 1
        let decision = CommittedDecision(state: state, events: events, leader: self.settings.name, sequence: sequence)
        let encoder = JSONEncoder()
        var changes: [EtcdClient.FencedChange] = [
            .put(key: self.keys.state, value: try encoder.encode(decision)), .put(key: self.keys.decision(sequence), value: try encoder.encode(decision.logEntry)),
        ]
        let oldest = sequence - ClusterKeys.decisionLogLength
        if oldest > 0 { changes.append(.deleteRange(from: self.keys.decision(0), to: self.keys.decision(oldest + 1))) }
        var existing: [EtcdClient.Unchanged] = []
        if let answering {
            changes += try self.answer(answering, error: nil)
            existing.append(.init(self.keys.request(answering.id), since: answering.requestRevision))
        }
        guard let revision = try await self.etcd.fenced(changes, fence: leadership, unchanged: .init(self.keys.state, since: self.stateRevision), existing: existing) else {
            if let answering, (try? await self.etcd.get(self.keys.request(answering.id)))?.createRevision != answering.requestRevision {
                throw Failure(description: "the follower that forwarded this command withdrew it before it was committed")
            }
            // Either the election key is gone (another instance leads), or the state moved
            // since this leader read it (an earlier commit of its own that timed out landed).
            if let holder = try? await self.etcd.leader(election: self.keys.election), holder.key == leadership.key, holder.createRevision == leadership.revision {
                try? await self.catchUp()
                throw Failure(description: "the committed state changed since this leader read it (a commit that timed out landed late); deciding again on it")
            }
            await self.stepDown(reason: "etcd refused a write fenced by its election key: another instance leads")
            throw Failure(description: "etcd refused the write: this instance no longer leads")
        }
        self.committedRevision = max(self.committedRevision, revision)
        self.committedSequence = sequence
        self.stateRevision = revision
        if let answering { self.answeredInCommit.insert(answering.id) }
        return revision
    }
}
