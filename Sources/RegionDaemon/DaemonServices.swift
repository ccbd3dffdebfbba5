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

/// Says in the journal when probing falls behind its schedule (start lateness p99 over
/// the recent probes above 100 ms) and when it keeps up again.
struct ScheduleWatchService: Service {
    let statistics: ProbeStatistics
    let logger: Logger
    var period: Duration = .seconds(10)

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.watch() }
    }

    private func watch() async {
        var health = ScheduleHealth()
        let clock = ContinuousClock()
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: self.period)
            } catch {
                return
            }
            switch health.observe(latenessP99Ms: self.statistics.latenessPercentile(0.99)) {
            case .overloaded(let p99):
                self.logger.warning(
                    "probing is overloaded: probes start \(formatMs(p99)) late (p99 of the recent probes); late probes miss their timeouts and healthy regions can read unhealthy. Probe fewer endpoints or less often, or give regiond more CPU (docs/performance.md)",
                    metadata: ["REGIOND_LATENESS_P99_MS": "\(wholeNumber(p99))"])
            case .recovered(let p99):
                self.logger.notice("probing keeps its schedule again (start lateness p99 \(formatMs(p99)))", metadata: ["REGIOND_LATENESS_P99_MS": "\(wholeNumber(p99))"])
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
            Task { await bus.publish(Event(time: time, kind: .daemonStopping, message: "regiond is stopping")) }
        }
    }
}
