import Foundation
import Logging
import NIOPosix
import RegionCore
import Synchronization

/// Applies a committed plan to the world. Idempotent: after a restart the stored
/// plan is applied again.
///
/// It always writes `traffic.json` in the state directory (atomically: a temporary
/// file renamed over the old one), for load balancers, DNS updaters or scripts to
/// read; with `[haproxy]` configured it also sets the weights of the regions' servers
/// through HAProxy's runtime API, and sends them again every `reapply_interval`
/// (HAProxy forgets runtime weights when it restarts or reloads); with `[hook]` it then
/// runs the hook command. Blocking I/O happens on NIO's thread pool, never on the
/// cooperative pool. A target that fails is reported as an `actuator_failed` event
/// (the plan stays committed; the next decision, re-application or restart applies it
/// again).
public actor PlanActuator {
    let path: String
    let bus: EventBus
    let logger: Logger
    private var targets: PlanTargets
    private var haproxy: HAProxySettings? { self.targets.haproxy }
    /// The last committed plan handed over, and a count of hand-overs (to notice a newer plan).
    private var current: TrafficPlan?
    private var currentOrder: [String] = []
    private var generation = 0
    /// A reload brought a new `[hook]`: it runs once for the committed plan.
    private var hookPending = false
    /// How each target fared, for `regionctl traffic`; read without a hop to this actor.
    private nonisolated let outcomes = Mutex<[String: TrafficReport.Target]>([:])
    static let targetOrder = ["state_file", "haproxy", "hook"]

    public init(stateDirectory: String, bus: EventBus, logger: Logger, targets: PlanTargets = .init()) {
        self.path = (stateDirectory as NSString).appendingPathComponent("traffic.json")
        self.bus = bus
        self.logger = logger
        self.targets = targets
    }

    /// Takes new `[haproxy]` and `[hook]` settings and region-to-server names (on reload).
    public func configure(_ targets: PlanTargets) {
        if let hook = targets.hook, hook != self.targets.hook { self.hookPending = true }
        self.targets = targets
        self.outcomes.withLock { outcomes in
            if targets.haproxy == nil { outcomes["haproxy"] = nil }
            if targets.hook == nil { outcomes["hook"] = nil }
        }
    }

    /// Each target the plan went to, and whether the last attempt worked.
    public nonisolated var appliedTo: [TrafficReport.Target] {
        let outcomes = self.outcomes.withLock { $0 }
        return Self.targetOrder.compactMap { outcomes[$0] }
    }

    /// Records an attempt and returns whether the target was failing before it; a
    /// success after failures is announced as `actuator_recovered`.
    @discardableResult
    private func note(_ target: String, failure: (any Error)?) async -> Bool {
        let now = Date()
        let wasFailing = self.outcomes.withLock { outcomes in
            let wasFailing = outcomes[target].map { !$0.ok } ?? false
            var outcome = outcomes[target] ?? TrafficReport.Target(name: target, ok: true)
            outcome.lastAttempt = now
            if let failure {
                if outcome.ok || outcome.failingSince == nil { outcome.failingSince = now }
                outcome.ok = false
                outcome.error = "\(failure)"
            } else {
                outcome.ok = true
                outcome.lastApplied = now
                outcome.failingSince = nil
                outcome.error = nil
            }
            outcomes[target] = outcome
            return wasFailing
        }
        if wasFailing && failure == nil {
            await self.bus.publish(
                Event(time: now, kind: .actuatorRecovered, message: "the plan reached \(target) again", fields: ["actuator": target]))
        }
        return wasFailing
    }

    /// How often the plan is sent to HAProxy again; nil without `[haproxy]`.
    public var reapplyInterval: Duration? { self.haproxy?.reapplyInterval }

    struct Document: Codable {
        var total: Int
        var weights: [Entry]
        var updated: Date

        struct Entry: Codable {
            var region: String
            var weight: Int
        }
    }

    public func apply(_ plan: TrafficPlan, order: [String]) async {
        self.current = plan
        self.currentOrder = order
        self.generation += 1
        self.hookPending = false
        let document = Document(total: plan.total, weights: order.map { .init(region: $0, weight: plan.weight($0)) }, updated: Date())
        let path = self.path
        do {
            let encoder = ControlProtocol.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            let data = try encoder.encode(document)
            try await NIOThreadPool.singleton.runIfActive {
                let temporary = path + ".tmp"
                try data.write(to: URL(fileURLWithPath: temporary))
                guard rename(temporary, path) == 0 else {
                    throw StateStore.Error(description: "rename \(temporary): \(String(cString: strerror(errno)))")
                }
            }
            await self.note("state_file", failure: nil)
        } catch {
            await self.note("state_file", failure: error)
            self.logger.error("cannot write \(path): \(error)")
            await self.bus.publish(
                Event(time: Date(), kind: .actuatorFailed, message: "cannot apply the plan to \(path): \(error)", fields: ["actuator": "state_file", "error": "\(error)"]))
        }
        await self.sendToHAProxy(newPlan: true)
        if let hook = self.targets.hook {
            await self.runHook(hook, plan: plan, order: order)
        }
    }

    /// Runs the hook for a plan change; waits for it (bounded by its timeout), so an
    /// event saying traffic moved comes after the hook has done its part.
    private func runHook(_ hook: PlanHook, plan: TrafficPlan, order: [String]) async {
        let environment = PlanHook.environment(for: plan, order: order, trafficFile: self.path)
        do {
            try await PlanHookCommand.run(hook, environment: environment)
            await self.note("hook", failure: nil)
            self.logger.info("plan hook ran", metadata: ["REGIOND_PLAN": "\(environment["REGIOND_PLAN"] ?? "")"])
        } catch {
            await self.note("hook", failure: error)
            await self.bus.publish(
                Event(
                    time: Date(), kind: .actuatorFailed, message: "plan hook failed: \(error)",
                    fields: ["actuator": "hook", "error": "\(error)"]))
        }
    }

    /// Sends the last plan to HAProxy again (the reapply timer, and a reload). A failure
    /// is announced with an event only when the previous exchange had worked.
    public func reapply() async {
        await self.sendToHAProxy(newPlan: false)
    }

    /// After a reload: HAProxy gets the committed plan again, and a new or changed
    /// `[hook]` runs once for it (a plan change since the reload has run it already).
    public func reconfigured() async {
        await self.sendToHAProxy(newPlan: false)
        if self.hookPending, let hook = self.targets.hook, let plan = self.current {
            self.hookPending = false
            await self.runHook(hook, plan: plan, order: self.currentOrder)
        }
    }

    /// Sends the current plan; if a newer plan was handed over while this exchange was
    /// under way, sends again, so an older answer never has the last word. `newPlan`:
    /// a decision's plan (every failure is an event), not a re-send (one per outage).
    private func sendToHAProxy(newPlan: Bool) async {
        while let haproxy = self.haproxy, let plan = self.current {
            let generation = self.generation
            let commands = HAProxyWeights.commands(for: plan, backend: haproxy.backend, servers: self.targets.servers)
            do {
                try await HAProxyRuntime(socket: haproxy.socket, timeout: haproxy.timeout).apply(commands)
                await self.note("haproxy", failure: nil)
                if newPlan {
                    self.logger.info("plan applied to HAProxy", metadata: ["REGIOND_HAPROXY_COMMANDS": "\(commands)"])
                }
            } catch {
                // Repeated failures of the re-send are announced once per outage.
                let alreadyFailing = await self.note("haproxy", failure: error)
                if newPlan || !alreadyFailing {
                    await self.bus.publish(
                        Event(
                            time: Date(), kind: .actuatorFailed, message: "cannot apply the plan to HAProxy backend \(haproxy.backend): \(error)",
                            fields: ["actuator": "haproxy", "error": "\(error)"]))
                } else {
                    self.logger.warning("still cannot apply the plan to HAProxy: \(error)")
                }
            }
            if generation == self.generation { return }
        }
    }
}
