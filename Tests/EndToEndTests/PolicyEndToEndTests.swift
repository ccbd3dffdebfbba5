import Foundation
import NIOCore
import RegionCore
import Testing

/// Two regions on switchable targets; `body` gets both. `prepare` sets up us-east's
/// target before regiond starts.
func twoTargetScenario(
    _ config: (_ eu: Int, _ us: Int) -> String, prepare: (SwitchableTarget) -> Void = { _ in },
    _ body: (RunningDaemon, SwitchableTarget, SwitchableTarget) async throws -> Void
) async throws {
    let us = try await SwitchableTarget.start()
    prepare(us)
    do {
        try await scenario({ eu in config(eu, us.port) }) { daemon, eu in try await body(daemon, eu, us) }
    } catch {
        await us.stop()
        throw error
    }
    await us.stop()
}

/// The failover policy end to end: latency that fires, residency, the lag guard,
/// simulate, probe and the status filter.
@Suite("failover policy end to end", .serialized)
struct PolicyEndToEndTests {
    static func config(eu: Int, us: Int, probe: String, status: String, failover: String, euExtra: String = "", usExtra: String = "") -> String {
        """
        [daemon]
        control_socket = "@SOCKET@"
        state_directory = "@DIR@"

        [probe]
        jitter = 0
        \(probe)

        [status]
        \(status)

        [failover]
        cooldown = "0s"
        \(failover)

        [[region]]
        id = "eu-west"
        weight = 6000
        \(euExtra)
          [[region.endpoint]]
          url = "http://127.0.0.1:\(eu)/healthz"

        [[region]]
        id = "us-east"
        weight = 4000
        \(usExtra)
          [[region.endpoint]]
          url = "http://127.0.0.1:\(us)/healthz"
          lag_header = "X-Replication-Lag"
        """
    }

    static let fast = (probe: "interval = \"100ms\"\ntimeout = \"2s\"", status: "window = \"1s\"\nevaluation_interval = \"100ms\"\nmin_samples = 2\nrise = 2\nfall = 2")

    /// A region answering in 1.5 s is degraded (above `degraded_latency` 1 s) and keeps
    /// its traffic; one answering in 6 s, seen by a probe whose timeout (10 s) is longer
    /// than its interval, fails over with the trigger `latency`.
    @Test func latencyDegradesAtOneAndAHalfSecondsAndFailsOverAtSix() async throws {
        let probe = "interval = \"500ms\"\ntimeout = \"10s\""
        // One slow answer is enough to judge (min_samples 1, fall 1); the silence while a
        // 6 s probe runs must not read as a timeout trigger.
        let status = "window = \"10s\"\nevaluation_interval = \"250ms\"\nmin_samples = 1\nrise = 1\nfall = 1\ndegraded_latency = \"1s\"\nlatency_percentile = \"p99\""
        let failover = "trigger_latency = \"5s\"\ntrigger_timeout_intervals = 1000"
        try await twoTargetScenario({ Self.config(eu: $0, us: $1, probe: probe, status: status, failover: failover) }) { daemon, eu, _ in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()

            eu.set(.slow(.milliseconds(1500)))
            let degraded = try await watch.readLine(containingAll: [#""kind":"status_changed""#, #""region":"eu-west""#, #""status":"degraded""#])
            #expect(degraded.contains("latency"), "\(degraded)")
            #expect(try row(try await traffic(daemon), "eu-west").weight == 6000, "1.5 s is degraded, not a failover")
            let shown = try await daemon.regionctl(["region", "eu-west"])
            #expect(shown.stdout.contains("degraded"), "\(shown.stdout)")

            eu.set(.slow(.seconds(6)))
            let started = try await watch.readLine(containingAll: [#""kind":"failover_started""#, #""region":"eu-west""#])
            let event = try ControlProtocol.decoder().decode(WatchLine.self, from: Data(started.utf8)).event
            #expect(event.fields["trigger"] == "latency", "\(event.fields)")
            #expect(try row(try await traffic(daemon), "eu-west").weight == 0)
            await watch.close()
        }
    }

    /// eu-west's traffic may only go to eu-central; an operator's move to us-east is
    /// refused unless overridden with a reason, which history keeps.
    @Test func residencyIsEnforcedAndAnOverrideIsRecorded() async throws {
        let central = try await SwitchableTarget.start()
        defer { Task { await central.stop() } }
        let euCentral = "\n[[region]]\nid = \"eu-central\"\nweight = 1000\n  [[region.endpoint]]\n  url = \"http://127.0.0.1:\(central.port)/healthz\"\n"
        try await twoTargetScenario({ Self.config(eu: $0, us: $1, probe: Self.fast.probe, status: Self.fast.status, failover: "", euExtra: "failover_to = [\"eu-central\"]") + euCentral }) {
            daemon, _, _ in
            try await daemon.notify.wait(for: "STATUS=3 regions: 3 healthy")
            let before = try await traffic(daemon)
            let refused = try await daemon.regionctl(["failover", "eu-west", "us-east", "--reason", "drill"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("eu-west's traffic may only go to eu-central"), "\(refused.stderr)")
            #expect(refused.stderr.contains("[residency]"), "\(refused.stderr)")
            #expect(try row(try await traffic(daemon), "eu-west").weight > 0)

            let moved = try await daemon.regionctl(["failover", "eu-west", "us-east", "--override-residency", "--reason", "eu-central is in maintenance"])
            #expect(moved.status == 0, "\(moved.stderr)")
            let plan = try await traffic(daemon)
            #expect(try row(plan, "eu-west").weight == 0)
            #expect(try row(plan, "eu-central").weight == row(before, "eu-central").weight, "all of eu-west's share went where the operator said")
            #expect(try row(plan, "eu-west").residencyOverride == "eu-central is in maintenance")
            let shown = try await daemon.regionctl(["traffic"])
            #expect(shown.stdout.contains("RESIDENCY OVERRIDDEN"), "\(shown.stdout)")
            let command = try #require(try await history(daemon).last { $0.kind == .operatorCommand })
            #expect(command.fields["residency_override"] == "eu-central is in maintenance")
        }
    }

    /// us-east reports its replication lag; above `max_lag` it takes no moved traffic, and
    /// `traffic` names it with its lag. Once the lag is low, eu-west's traffic moves.
    @Test func aLaggingRegionTakesNoMovedTrafficUntilItCatchesUp() async throws {
        try await twoTargetScenario(
            { Self.config(eu: $0, us: $1, probe: Self.fast.probe, status: Self.fast.status, failover: "", usExtra: "max_lag = \"30s\"") },
            prepare: { $0.set(lag: "120") }
        ) { daemon, eu, us in
            // Healthy takes two probes (rise 2), each of which reported the lag.
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            #expect(try row(try await traffic(daemon), "us-east").lag == 120)
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            eu.set(.error)
            let blocked = try await watch.readLine(containingAll: [#""region":"eu-west""#, #""kind":"failover_blocked""#])
            #expect(blocked.contains("us-east: replication lag 120 s >= max_lag 30 s"), "\(blocked)")
            let held = try await traffic(daemon)
            #expect(try row(held, "eu-west").weight == 6000)
            let excluded = try row(held, "us-east").excluded ?? ""
            #expect(excluded.contains("lag"), "\(excluded)")
            let shown = try await daemon.regionctl(["traffic"])
            #expect(shown.stdout.contains("takes no moved traffic"), "\(shown.stdout)")

            us.set(lag: "2")
            _ = try await watch.readLine(containingAll: [#""kind":"failover_started""#, #""region":"eu-west""#])
            #expect(try row(try await traffic(daemon), "us-east").weight == 10_000)
            await watch.close()
        }
    }

    /// `simulate` answers for anyone and changes nothing; `probe` probes now and is
    /// rate-limited; `regions --status` filters.
    @Test func simulateProbeAndTheStatusFilter() async throws {
        let config = { (eu: Int, us: Int) in
            Self.config(eu: eu, us: us, probe: Self.fast.probe, status: Self.fast.status, failover: "recovery_window = \"2m\"")
                .replacingOccurrences(of: "[daemon]\n", with: "[daemon]\nsocket_mode = \"0666\"\n")
        }
        try await twoTargetScenario(config) { daemon, eu, _ in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let before = try await traffic(daemon)
            let simulated = try await daemon.regionctl(["simulate", "eu-west fails", "eu-west recovers at +30s"], asUser: true)
            #expect(simulated.status == 0, "\(simulated.stderr)")
            #expect(simulated.stdout.contains("failover_started"), "\(simulated.stdout)")
            #expect(simulated.stdout.contains("failback_completed"), "\(simulated.stdout)")
            #expect(simulated.stdout.contains("+2m30s") || simulated.stdout.contains("+150"), "\(simulated.stdout)")
            let after = try await traffic(daemon)
            #expect(after.regions.map(\.weight) == before.regions.map(\.weight))
            #expect(after.regions.map(\.phase) == before.regions.map(\.phase))
            let bad = try await daemon.regionctl(["simulate", "eu-west explodes"])
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("cannot read 'eu-west explodes'"), "\(bad.stderr)")

            let probed = try await daemon.regionctl(["probe", "eu-west"], asUser: true)
            #expect(probed.status == 0, "\(probed.stderr)")
            #expect(probed.stdout.contains("status 200"), "\(probed.stdout)")
            let again = try await daemon.regionctl(["probe", "eu-west"], asUser: true)
            #expect(again.status == 75, "\(again.stderr)")
            eu.set(.error)
            try await daemon.notify.wait(for: "STATUS=2 regions: 1 healthy, 1 unhealthy")
            let unhealthy = try await daemon.regionctl(["regions", "--status", "unhealthy"])
            #expect(unhealthy.stdout.contains("eu-west"), "\(unhealthy.stdout)")
            #expect(!unhealthy.stdout.contains("us-east"), "\(unhealthy.stdout)")
            let failedProbe = try await daemon.regionctl(["probe", "us-east"])
            #expect(failedProbe.status == 0)
            let badFilter = try await daemon.regionctl(["regions", "--status", "sad"])
            #expect(badFilter.status == 64 || badFilter.status == 1, "\(badFilter.stderr)")
        }
    }
}
