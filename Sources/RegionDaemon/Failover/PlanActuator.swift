import Foundation
import Logging
import RegionCore
import Synchronization

/// Applies committed plans to every target, each on its own ``TargetWorker``, outside
/// the decision loop: `traffic.json` in the state directory, each `[[haproxy]]` (over
/// its runtime API), and the `[hook]` command. A slow or failing target holds back
/// neither the decisions nor the other targets. Idempotent: after a restart the stored
/// plan is applied again.
///
/// HAProxy forgets runtime weights when it restarts or reloads. So each HAProxy target
/// also has a watch: `show info` every `watch_interval` (500 ms) notices a new process
/// (or one that answers again) and re-sends the plan at once, and the plan is re-sent
/// every `reapply_interval` whatever happens. With `state_file`, HAProxy's own state
/// is written after every apply, so a reloaded HAProxy starts with the plan.
public actor PlanActuator {
    let trafficFile: String
    let bus: EventBus
    let logger: Logger
    private var targets: PlanTargets
    private var workers: [String: TargetWorker] = [:]
    private var watches: [String: Task<Void, Never>] = [:]
    private let outcomes = TargetOutcomes()
    /// Target names in order, for readers outside the actor.
    private nonisolated let names: Mutex<[String]>
    private var current: PlanOffer?
    private var generation = 0

    public init(stateDirectory: String, bus: EventBus, logger: Logger, targets: PlanTargets = .init()) {
        self.trafficFile = (stateDirectory as NSString).appendingPathComponent("traffic.json")
        self.bus = bus
        self.logger = logger
        self.targets = targets
        self.names = Mutex(targets.names)
    }

    /// Each target the plan goes to, and how the last attempt went (no hop).
    public nonisolated var appliedTo: [TrafficReport.Target] {
        let outcomes = self.outcomes.all
        return self.names.withLock { $0 }.compactMap { outcomes[$0] }
    }

    /// The targets as configured, one worker each.
    private func makeTargets(_ targets: PlanTargets) -> [any PlanTarget] {
        var result: [any PlanTarget] = [StateFileTarget(path: self.trafficFile)]
        result += targets.haproxy.map { HAProxyTarget(settings: $0, servers: targets.servers) }
        if let hook = targets.hook { result.append(HookTarget(hook: hook, trafficFile: self.trafficFile)) }
        return result
    }

    private func start() {
        guard self.workers.isEmpty else { return }
        self.configureWorkers(self.targets, previous: nil)
    }

    /// Takes new targets (on reload). New and changed targets get the committed plan at
    /// once; unchanged ones keep their worker and their history.
    public func configure(_ targets: PlanTargets) async {
        let previous = self.targets
        self.targets = targets
        for worker in self.configureWorkers(targets, previous: previous) {
            if let current = self.current { await worker.offer(current) }
        }
    }

    /// Makes the workers `targets` call for; returns the new ones.
    @discardableResult
    private func configureWorkers(_ targets: PlanTargets, previous: PlanTargets?) -> [TargetWorker] {
        var created: [TargetWorker] = []
        let wanted = self.makeTargets(targets)
        let names = Set(wanted.map(\.name))
        for (name, worker) in self.workers where !names.contains(name) {
            self.workers[name] = nil
            self.watches.removeValue(forKey: name)?.cancel()
            _ = worker
        }
        for target in wanted {
            if self.workers[target.name] != nil, let previous, Self.same(target, in: previous, as: targets) { continue }
            self.watches.removeValue(forKey: target.name)?.cancel()
            let worker = TargetWorker(target: target, outcomes: self.outcomes, bus: self.bus, logger: self.logger)
            self.workers[target.name] = worker
            if let haproxy = target as? HAProxyTarget {
                self.watches[target.name] = Task { await Self.watch(haproxy, worker: worker) }
            }
            created.append(worker)
        }
        self.outcomes.remove(except: names)
        self.names.withLock { $0 = wanted.map(\.name) }
        return created
    }

    /// Whether a target's settings are the same under both configurations.
    private static func same(_ target: any PlanTarget, in old: PlanTargets, as new: PlanTargets) -> Bool {
        switch target.name {
        case "state_file": return true
        case "hook": return old.hook == new.hook
        default:
            let before = old.haproxy.first { $0.target == target.name }
            let after = new.haproxy.first { $0.target == target.name }
            return before == after && old.servers == new.servers
        }
    }

    /// Hands a committed plan to every target and returns without waiting for any of them.
    public func apply(_ plan: TrafficPlan, order: [String]) async {
        self.start()
        self.generation += 1
        let offer = PlanOffer(plan: plan, order: order, generation: self.generation, committedAt: Date())
        self.current = offer
        await self.offer(offer)
    }

    /// `traffic.json` first (a hook may read it), then every other target.
    private func offer(_ offer: PlanOffer) async {
        if let file = self.workers["state_file"] {
            await file.offer(offer)
            await file.idle()
        }
        for (name, worker) in self.workers where name != "state_file" { await worker.offer(offer) }
    }

    /// Hands the plan over and waits until every target has had it once (at start-up,
    /// before READY=1). Bounded by the targets' own timeouts.
    public func applyAndWait(_ plan: TrafficPlan, order: [String]) async {
        self.start()
        self.generation += 1
        let offer = PlanOffer(plan: plan, order: order, generation: self.generation, committedAt: Date())
        self.current = offer
        await self.offer(offer)
        let workers = Array(self.workers.values)
        await withTaskGroup(of: Void.self) { group in
            for worker in workers { group.addTask { await worker.idle() } }
        }
    }

    /// Waits until no target has a plan waiting or being applied (for tests and shutdown).
    public func settle() async {
        for worker in self.workers.values { await worker.idle() }
    }

    /// Sends the committed plan to every HAProxy again now.
    public func reapply() async {
        for (name, worker) in self.workers where name.hasPrefix("haproxy") { await worker.resend() }
    }

    /// What the load balancers say about sessions still open on a region (graceful strategy).
    public enum Sessions: Sendable, Equatable {
        /// No `[haproxy]` is configured: nothing can tell, so a drain lasts `drain_timeout`.
        case unobservable
        /// Every load balancer answered: this many sessions in all.
        case open(Int)
        /// A load balancer did not answer (treated as sessions still open).
        case unknown(String)
    }

    /// Sessions open on `region`'s server, summed over every HAProxy.
    public func sessions(on region: String) async -> Sessions {
        let targets = self.targets.haproxy.map { HAProxyTarget(settings: $0, servers: self.targets.servers) }
        guard !targets.isEmpty else { return .unobservable }
        var total = 0
        for target in targets {
            do {
                total += try await target.sessions(on: region)
            } catch {
                return .unknown("\(target.name): \(error)")
            }
        }
        return .open(total)
    }

    /// Stops the HAProxy watches.
    public func stop() {
        for watch in self.watches.values { watch.cancel() }
        self.watches.removeAll()
    }

    /// Notices a new HAProxy process (a reload or restart: a new pid or start time) or one
    /// that answers again, and re-sends the plan at once; re-sends every reapply_interval.
    static func watch(_ target: HAProxyTarget, worker: TargetWorker) async {
        let clock = ContinuousClock()
        let settings = target.settings
        var nextReapply = clock.now.advanced(by: settings.reapplyInterval)
        var known: HAProxyIdentity?
        var unreachable = true
        while !Task.isCancelled {
            let wake = settings.watchInterval > .zero ? min(clock.now.advanced(by: settings.watchInterval), nextReapply) : nextReapply
            do {
                try await clock.sleep(until: wake, tolerance: nil)
            } catch {
                return
            }
            if settings.watchInterval > .zero {
                do {
                    let identity = try await target.identity()
                    if let known, known != identity {
                        await worker.resend(reason: "HAProxy restarted or reloaded (pid \(known.pid) -> \(identity.pid))")
                    } else if unreachable, known != nil {
                        await worker.resend(reason: "HAProxy answers again (pid \(identity.pid))")
                    } else if unreachable {
                        await worker.resend()  // the first look: the start-up apply may have found it away
                    }
                    known = identity
                    unreachable = false
                } catch {
                    if !unreachable || known != nil { await worker.unreachable(error) }
                    unreachable = true
                }
            }
            if clock.now >= nextReapply {
                await worker.resend()
                nextReapply = clock.now.advanced(by: settings.reapplyInterval)
            }
        }
    }
}
