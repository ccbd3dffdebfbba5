import Foundation
import Logging
import RegionCore
import Synchronization

/// A committed plan on its way to the targets.
public struct PlanOffer: Sendable, Equatable {
    public var plan: TrafficPlan
    /// Regions in config order, for the state file and the hook's environment.
    public var order: [String]
    /// Counts the plans handed over; a target never takes a lower one after a higher one.
    public var generation: Int
    /// When the plan was committed.
    public var committedAt: Date

    var text: String { self.plan.description(order: self.order) }
}

/// One place a committed plan is applied: the state file, one HAProxy, the hook.
protocol PlanTarget: Sendable {
    var name: String { get }
    /// Applies the plan, or throws why not.
    func apply(_ offer: PlanOffer) async throws
}

/// How each target fared, read without a hop (for `traffic`, `status` and `STATUS=`).
final class TargetOutcomes: Sendable {
    private let outcomes = Mutex<[String: TrafficReport.Target]>([:])

    var all: [String: TrafficReport.Target] { self.outcomes.withLock { $0 } }

    func remove(except names: Set<String>) {
        self.outcomes.withLock { $0 = $0.filter { names.contains($0.key) } }
    }

    /// Records an attempt; returns whether the target was failing before it.
    func note(_ target: String, generation: Int, failure: (any Error)?, at now: Date) -> Bool {
        self.outcomes.withLock { outcomes in
            var outcome = outcomes[target] ?? TrafficReport.Target(name: target, ok: true)
            let wasFailing = !outcome.ok
            outcome.lastAttempt = now
            if let failure {
                if outcome.ok || outcome.failingSince == nil { outcome.failingSince = now }
                outcome.ok = false
                outcome.error = clip("\(failure)", bytes: 1024)
            } else {
                outcome.ok = true
                outcome.lastApplied = now
                outcome.appliedGeneration = generation
                outcome.failingSince = nil
                outcome.error = nil
            }
            outcomes[target] = outcome
            return wasFailing
        }
    }
}

/// Applies plans to one target, one at a time, outside the decision loop.
///
/// It keeps only the newest plan it has not applied yet: a plan that arrives while an
/// older one is being applied replaces any still waiting, so a slow target (a hook
/// that takes seconds) neither delays decisions nor receives an older plan after a
/// newer one. Each plan that reaches the target is a `plan_applied` event with its
/// generation and how long after the commit it arrived; a failure is `actuator_failed`
/// (a re-send only once per outage), and the first success after failures is
/// `actuator_recovered`.
actor TargetWorker {
    let target: any PlanTarget
    let outcomes: TargetOutcomes
    let bus: EventBus
    let logger: Logger
    /// The newest plan handed over, and whether it has been sent already.
    private var newest: PlanOffer?
    /// A plan to send: a new one (`resend` false), or the newest again, with why when that is news.
    private var waiting: (offer: PlanOffer, resend: Bool, reason: String?)?
    private var running = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    init(target: any PlanTarget, outcomes: TargetOutcomes, bus: EventBus, logger: Logger) {
        self.target = target
        self.outcomes = outcomes
        self.bus = bus
        self.logger = logger
    }

    nonisolated var name: String { self.target.name }

    /// A newer plan: replaces whatever is waiting.
    func offer(_ offer: PlanOffer) {
        if let newest = self.newest, newest.generation > offer.generation { return }
        self.newest = offer
        self.waiting = (offer, false, nil)
        self.kick()
    }

    /// Sends the newest plan again, unless a plan is waiting anyway. With a `reason` (a
    /// restarted HAProxy), its arrival is a `plan_applied` event saying why; without one
    /// (the re-apply timer), only a failure or a recovery is news.
    func resend(reason: String? = nil) {
        guard self.waiting == nil, let newest = self.newest else { return }
        self.waiting = (newest, true, reason)
        self.kick()
    }

    /// The target cannot be reached at all (the watch found HAProxy gone): a failure of
    /// the plan in force, announced once per outage.
    func unreachable(_ error: any Error) async {
        guard let newest = self.newest else { return }
        let wasFailing = self.outcomes.note(self.name, generation: newest.generation, failure: error, at: Date())
        if !wasFailing {
            let error = clip("\(error)", bytes: 1024)
            await self.bus.publish(
                Event(
                    time: Date(), message: "the plan did not reach \(self.name): \(error)",
                    .actuatorFailed(PlanDelivery(actuator: self.name, generation: newest.generation, plan: newest.text, error: error))))
        }
    }

    /// Returns once nothing is waiting or being applied.
    func idle() async {
        guard self.running || self.waiting != nil else { return }
        await withCheckedContinuation { self.idleWaiters.append($0) }
    }

    private func kick() {
        guard !self.running else { return }
        self.running = true
        Task { await self.drain() }
    }

    private func drain() async {
        while let (offer, resend, reason) = self.waiting {
            self.waiting = nil
            await self.attempt(offer, resend: resend, reason: reason)
        }
        self.running = false
        let waiters = self.idleWaiters
        self.idleWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    private func attempt(_ offer: PlanOffer, resend: Bool, reason: String?) async {
        var failure: (any Error)?
        do {
            try await self.target.apply(offer)
        } catch {
            failure = error
        }
        let now = Date()
        let wasFailing = self.outcomes.note(self.name, generation: offer.generation, failure: failure, at: now)
        let delay = max(0, now.timeIntervalSince(offer.committedAt))
        var delivery = PlanDelivery(actuator: self.name, generation: offer.generation, plan: offer.text)
        if let failure {
            let error = clip("\(failure)", bytes: 1024)
            if !resend || !wasFailing {
                delivery.error = error
                await self.bus.publish(Event(time: now, message: "the plan did not reach \(self.name): \(error)", .actuatorFailed(delivery)))
            } else {
                self.logger.warning("still cannot apply the plan to \(self.name): \(failure)")
            }
            return
        }
        if wasFailing {
            await self.bus.publish(Event(time: now, message: "the plan reached \(self.name) again", .actuatorRecovered(delivery)))
        }
        if !resend {
            delivery.delayMs = delay * 1000
            await self.bus.publish(
                Event(time: now, message: "plan \(offer.generation) reached \(self.name) \(formatMs(delay * 1000)) after its commit: \(offer.text)", .planApplied(delivery)))
        } else if let reason {
            delivery.reason = reason
            await self.bus.publish(Event(time: now, message: "plan \(offer.generation) applied to \(self.name) again: \(reason)", .planApplied(delivery)))
        }
    }
}
