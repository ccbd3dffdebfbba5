import Foundation
import Logging
import RegionCore
import ServiceLifecycle
import UnixSignals

/// Feeds the systemd watchdog from the supervisor's own liveness check, so a
/// stalled scheduler stops the pings and systemd restarts the daemon.
struct WatchdogService<C: Clock>: Service where C.Duration == Duration {
    let supervisor: Supervisor<C>
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        guard let interval = self.notifier.watchdogInterval() else {
            try? await gracefulShutdown()
            return
        }
        self.logger.info("watchdog enabled", metadata: ["watchdog.interval_ms": "\(wholeNumber(interval.milliseconds))"])
        await cancelWhenGracefulShutdown {
            await self.beat(every: interval / 3)
        }
    }

    private func beat(every period: Duration) async {
        let clock = ContinuousClock()
        var wasLive = true
        while !Task.isCancelled {
                let live = await self.supervisor.isLive()
                if live {
                    self.notifier.watchdog()
                } else if wasLive {
                    self.logger.error("region evaluation has stalled; withholding WATCHDOG=1 so systemd can restart regiond")
                }
                wasLive = live
                do {
                    try await clock.sleep(for: period)
                } catch {
                    return
                }
        }
    }
}

/// Watches regiond's own schedule (probe start lateness and event-loop lag, every
/// half second) through the pure ``ScheduleHealth`` rule. While regiond is starved it
/// holds: monitors keep their statuses and the failover controller makes no automatic
/// decision. Holding and resuming are events (`decisions_held`, `decisions_resumed`).
struct ScheduleWatchService<C: Clock>: Service where C.Duration == Duration {
    let statistics: ProbeStatistics
    let lag: LoopLag
    let gate: ScheduleGate
    let controller: FailoverController<C>?
    let bus: EventBus
    let time: TimeBase<C>
    var period: Duration = .milliseconds(500)

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.watch() }
        self.lag.stop()
    }

    private func watch() async {
        var health = ScheduleHealth()
        let clock = ContinuousClock()
        _ = self.lag.drainWorstMs()
        _ = self.statistics.drainPeriod()
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: self.period)
            } catch {
                return
            }
            let reading = ScheduleHealth.Reading(latenessP99Ms: Percentile.of(self.statistics.drainPeriod(), 0.99), loopLagMs: self.lag.drainWorstMs())
            let now = self.time.now
            switch health.observe(reading, now: now) {
            case .held(let hold)?:
                self.gate.set(hold)
                self.controller?.hold(true)
                await self.bus.publish(
                    Event(
                        time: now,
                        message: "regiond is overloaded: \(hold.reason); statuses are frozen and no automatic failover is made until its schedule is healthy again. Probe fewer endpoints or less often, or give regiond more CPU (docs/performance.md)",
                        .decisionsHeld(Overload(reason: hold.reason, latenessP99Ms: reading.latenessP99Ms, loopLagMs: reading.loopLagMs))))
            case .released(let seconds)?:
                self.gate.set(nil)
                self.controller?.hold(false)
                await self.bus.publish(
                    Event(
                        time: now, message: "regiond keeps its schedule again after \(formatSeconds(seconds.rounded())); statuses and automatic decisions resume",
                        .decisionsResumed(OverloadEnded(heldSeconds: seconds))))
            case nil:
                break
            }
        }
    }
}

/// Keeps systemd's `STATUS=` in step with region statuses.
struct StatusTextService<C: Clock>: Service where C.Duration == Duration {
    let supervisor: Supervisor<C>
    let bus: EventBus

    func run() async throws {
        let events = await self.bus.subscribe()
        // Any event may change the line (statuses, recovering, a database that stopped
        // or resumed taking writes); STATUS= is sent only when the text changes.
        for await _ in events.cancelOnGracefulShutdown() {
            await self.supervisor.refreshStatusText()
        }
    }
}

/// Reloads on SIGHUP. It is the last service, so it is the first told to stop:
/// that is when `STOPPING=1` goes out.
struct ReloadSignalService<C: Clock>: Service where C.Duration == Duration {
    let supervisor: Supervisor<C>
    let notifier: SystemdNotifier
    let bus: EventBus
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            for await _ in signals.cancelOnGracefulShutdown() {
                self.logger.info("SIGHUP received, reloading configuration")
                _ = await self.supervisor.reload()
            }
        } onGracefulShutdown: {
            self.notifier.stopping(status: "stopping")
            let bus = self.bus
            let time = Date()
            Task { await bus.publish(Event(time: time, message: "regiond is stopping", .daemonStopping)) }
        }
    }
}
