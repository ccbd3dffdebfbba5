import Foundation
import Logging
import RegionCore
import RegionProbes
import Testing

@testable import RegionDaemon

@Suite("watchdog liveness")
struct LivenessTests {
    @Test(arguments: [
        (nil as Duration?, Duration.seconds(0), false),  // just started
        (nil, .seconds(3), false),  // exactly three intervals: still on time
        (nil, .milliseconds(3001), true),  // never ticked for longer than that
        (.seconds(1), .seconds(100), false),  // ticked recently, started long ago
        (.seconds(4), .seconds(100), true),
    ])
    func aRegionIsStalledAfterThreeMissedTicks(sinceLastEvaluation: Duration?, sinceStart: Duration, stalled: Bool) {
        #expect(EvaluationLiveness.isStalled(sinceLastEvaluation: sinceLastEvaluation, sinceStart: sinceStart, interval: .seconds(1)) == stalled)
    }

    /// A region added by a reload long after start is measured from its own start. (It
    /// was measured from the daemon's: stalled at once, until its first tick, and with a
    /// long evaluation interval systemd's watchdog would kill a healthy daemon.)
    @Test func aRegionAddedByReloadIsNotStalled() async throws {
        let clock = ManualClock()
        let logger = Logger(label: "test")
        let bus = EventBus(logger: logger)
        let prober = Prober()
        var empty = Config(regions: [])
        empty.daemon.stateDirectory = temporaryDirectory()
        let supervisor = Supervisor(
            config: empty, configPath: "test", time: TimeBase(clock: clock), prober: prober, bus: bus, statistics: ProbeStatistics(),
            notifier: SystemdNotifier(), logger: logger)
        await supervisor.start()
        #expect(await supervisor.isLive())
        clock.advance(by: .seconds(600))

        var status = StatusThresholds()
        status.evaluationInterval = .seconds(60)
        var added = empty
        added.regions = [RegionConfig(id: "late", weight: 1, endpoints: [], status: status)]
        _ = await supervisor.apply(added)
        #expect(await supervisor.isLive(), "a region added 10 minutes after start reads as stalled before its first tick")
        await supervisor.stop()
        await prober.shutdown()
    }
}

@Suite("journal catalog")
struct CatalogTests {
    /// Every event kind has an entry, so `journalctl -x` explains each one.
    @Test func everyEventKindIsInTheCatalog() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let catalog = try String(contentsOf: root.appendingPathComponent("systemd/regiond.catalog"), encoding: .utf8)
        for kind in EventKind.allCases {
            #expect(catalog.contains("-- \(kind.messageID)\n"), "\(kind.rawValue) (\(kind.messageID)) has no catalog entry")
        }
        #expect(Set(EventKind.allCases.map(\.messageID)).count == EventKind.allCases.count)
    }
}
