import Foundation
import Logging
import RegionCore
import ServiceLifecycle
import Synchronization

/// Runs the `[[alert]]` commands. It reads the event stream like any `watch` client, so
/// it is outside the failover loop: a slow or hanging alert command never delays a
/// decision (unlike the plan `[hook]`, which applies decisions). Each rule has its own
/// queue and worker, so one slow rule holds back only its own deliveries.
struct AlertService<C: Clock>: Service where C.Duration == Duration {
    let rules: [AlertRule]
    let bus: EventBus
    let metrics: DaemonMetrics?
    let logger: Logger
    let time: TimeBase<C>
    /// Deliveries waiting per rule; more are dropped (and counted).
    var queueLength = 64

    func run() async throws {
        let events = await self.bus.subscribe()
        let stopping = StopFlag()
        await withDiscardingTaskGroup { group in
            var queues: [AsyncStream<Event>.Continuation] = []
            for rule in self.rules {
                let (stream, queue) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingOldest(self.queueLength))
                queues.append(queue)
                group.addTask { await self.work(rule, stream, stopping: stopping) }
            }
            var gates = self.rules.map(AlertGate.init)
            for await event in events.cancelOnGracefulShutdown() {
                for index in gates.indices {
                    switch gates[index].judge(event, now: self.time.now) {
                    case .deliver:
                        if case .dropped = queues[index].yield(event) { self.dropped(event, rule: gates[index].rule, why: "its queue is full") }
                    case .rateLimited(let last):
                        self.metrics?.alert(gates[index].rule.name, result: .rateLimited)
                        self.logger.info(
                            "alert \(gates[index].rule.name) held back \(event.kind.rawValue): one went out \(formatSeconds(self.time.now.timeIntervalSince(last).rounded())) ago (rate_limit)")
                    case .notForThisRule:
                        break
                    }
                }
            }
            // Stopping: a command still running is killed with its process group (a stop must
            // not wait for an alert's timeout) and counted as dropped; what still waits is
            // dropped with it.
            stopping.set()
            for queue in queues { queue.finish() }
            group.cancelAll()
        }
    }

    private func work(_ rule: AlertRule, _ queue: AsyncStream<Event>, stopping: StopFlag) async {
        for await event in queue {
            guard !stopping.isSet else {
                self.dropped(event, rule: rule, why: "regiond is stopping")
                continue
            }
            var attempts = 0
            var failure = ""
            while attempts <= rule.retries {
                if attempts > 0 {
                    try? await Task.sleep(for: AlertRule.backoff(beforeRetry: attempts))
                    if stopping.isSet { break }
                }
                attempts += 1
                guard let why = await AlertCommand.deliver(event, rule: rule) else {
                    self.metrics?.alert(rule.name, result: .ok)
                    self.logger.info("alert \(rule.name) delivered \(event.kind.rawValue) (event \(event.id))")
                    failure = ""
                    break
                }
                failure = why
                if stopping.isSet { break }
                self.logger.warning("alert \(rule.name): attempt \(attempts) of \(rule.retries + 1) for \(event.kind.rawValue) failed: \(why)")
            }
            guard !failure.isEmpty else { continue }
            guard !stopping.isSet else {
                self.dropped(event, rule: rule, why: "regiond stopped while the command ran")
                continue
            }
            self.metrics?.alert(rule.name, result: .failed)
            await self.bus.publish(
                Event(
                    time: self.time.now, message: "alert \(rule.name) could not deliver \(event.kind.rawValue) (event \(event.id)) in \(attempts) attempts: \(failure)",
                    .alertFailed(AlertUndelivered(alert: rule.name, alertKind: event.kind, alertEventID: event.id, attempts: attempts, error: failure))))
        }
    }

    private func dropped(_ event: Event, rule: AlertRule, why: String) {
        self.metrics?.alert(rule.name, result: .dropped)
        self.logger.warning("alert \(rule.name) dropped \(event.kind.rawValue) (event \(event.id)): \(why)")
    }
}

/// Set once, read by every worker: regiond is stopping.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { self.value.load(ordering: .acquiring) }
    func set() { self.value.store(true, ordering: .releasing) }
}
