import Dispatch
import Foundation
import RegionTestSupport
import RegionCore
import Subprocess
import Testing

/// Two regions, `eu-west` on a switchable target and `us-east` on a steady one, with a failover section.
func failoverConfig(eu: Int, us: Int, failover: String) -> String {
    """
    [daemon]
    control_socket = "@SOCKET@"
    state_directory = "@DIR@"

    [probe]
    interval = "100ms"
    timeout = "2s"
    jitter = 0

    [status]
    window = "1s"
    evaluation_interval = "100ms"
    min_samples = 2
    rise = 2
    fall = 2

    [failover]
    \(failover)

    [[region]]
    id = "eu-west"
    tier = "primary"
    weight = 6000
      [[region.endpoint]]
      url = "http://127.0.0.1:\(eu)/healthz"

    [[region]]
    id = "us-east"
    tier = "secondary"
    weight = 4000
      [[region.endpoint]]
      url = "http://127.0.0.1:\(us)/healthz"
    """
}

/// Runs `body` with both targets up and regiond started on `failoverConfig` (passed
/// through `edit`); always cleans up.
func failoverScenario(
    _ failover: String, edit: @escaping (String) -> String = { $0 }, _ body: (RunningDaemon, SwitchableTarget) async throws -> Void
) async throws {
    let steady = try await SwitchableTarget.start()
    do {
        try await scenario({ port in edit(failoverConfig(eu: port, us: steady.port, failover: failover)) }, body)
    } catch {
        await steady.stop()
        throw error
    }
    await steady.stop()
}

func traffic(_ daemon: RunningDaemon) async throws -> TrafficReport {
    try await daemon.call("traffic", as: TrafficReport.self)
}

func history(_ daemon: RunningDaemon) async throws -> [Event] {
    var request = ControlRequest(cmd: "history")
    request.limit = 10_000
    let line = String(decoding: try ControlProtocol.encoder().encode(request), as: UTF8.self)
    let reply = try ControlProtocol.decoder().decode(ControlReply<HistoryReport>.self, from: Data(try await daemon.request(line).utf8))
    return try #require(reply.result).events
}

func row(_ report: TrafficReport, _ region: String) throws -> TrafficReport.Row {
    try #require(report.regions.first { $0.region == region })
}

/// Starts a real HAProxy (daemon mode) with its runtime API at `DIRECTORY/admin.sock`
/// and one backend `app` of `servers`; returns its pid. `-D` returns once the sockets are bound.
func startHAProxy(in directory: String, servers: [String]) async throws -> pid_t {
    let config = """
        global
            stats socket \(directory)/admin.sock level admin
        defaults
            mode http
            timeout connect 1s
            timeout client 1s
            timeout server 1s
        backend app
        \(servers.map { "    server \($0) 127.0.0.1:9 weight 100" }.joined(separator: "\n"))

        """
    try config.write(toFile: "\(directory)/haproxy.cfg", atomically: true, encoding: .utf8)
    let started = try await runProgram("/usr/sbin/haproxy", ["-D", "-f", "\(directory)/haproxy.cfg", "-p", "\(directory)/haproxy.pid"])
    try #require(started.status == 0, "haproxy: \(started.stderr)")
    let text = try String(contentsOfFile: "\(directory)/haproxy.pid", encoding: .utf8)
    let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
    ProcessReaper.register(pid)
    return pid
}

/// HAProxy's own view of a server's weight, e.g. "154 (initial 100)".
func haproxyWeight(in directory: String, _ server: String) async throws -> String {
    let connection = try await ControlConnection.open("\(directory)/admin.sock")
    try await connection.send("get weight app/\(server)")
    let line = try await connection.readLine()
    await connection.close()
    return line ?? ""
}

@Suite("failover end to end", .serialized)
struct FailoverEndToEndTests {
    /// Failover, the recovery window, then failback on the ramp (2 steps over 1 s here):
    /// half of eu-west's share first, the rest a second later.
    @Test func automaticFailoverThenFailbackAfterTheRecoveryWindow() async throws {
        try await failoverScenario("cooldown = \"0s\"\nrecovery_window = \"1s\"\nfailback_ramp = \"1s\"\nfailback_ramp_steps = 2") { daemon, eu in
            try await daemon.notify.wait(for: "READY=1")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")  // before it breaks (the watch may have started after eu-west turned healthy)

            eu.set(.error)
            let started = try await watch.readLine(containing: #""kind":"failover_started""#)
            let event = try ControlProtocol.decoder().decode(WatchLine.self, from: Data(started.utf8)).event
            #expect(event.region == "eu-west")
            // A 500 from the only endpoint can fire error_rate, or capacity (0 of 1 endpoints
            // passing) when the tick lands after one failed probe among ten passing ones; a
            // stalled machine can fire timeout. Latency, unhealthy or manual would be wrong.
            #expect(["error_rate", "capacity", "timeout"].contains(event.fields["trigger"]), "trigger: \(event.fields["trigger"] ?? "none")")
            #expect(event.fields["plan"] == "eu-west=0 us-east=10000")
            let moved = try await traffic(daemon)
            #expect(try row(moved, "eu-west").weight == 0)
            #expect(try row(moved, "us-east").weight == 10_000)
            // The plan was applied to the state file only after it was committed.
            let file = try String(contentsOfFile: "\(daemon.directory)/traffic.json", encoding: .utf8)
            #expect(file.contains(#""weight" : 10000"#))

            eu.set(.ok)
            _ = try await watch.readLine(containing: #""kind":"recovery_started""#)
            let status = try await daemon.call("region", region: "eu-west", as: RegionReport.self)
            #expect([.recovering, .healthy].contains(status.brief.status))
            let step = try await watch.readLine(containing: #""kind":"failback_step""#)
            let half = try ControlProtocol.decoder().decode(WatchLine.self, from: Data(step.utf8)).event
            #expect(half.fields["share"] == "0.5000" && half.fields["plan"] == "eu-west=3000 us-east=7000", "\(half.fields)")
            _ = try await watch.readLine(containing: #""kind":"failback_completed""#)
            let back = try await traffic(daemon)
            #expect(try row(back, "eu-west").weight == 6000)

            let kinds = try await history(daemon).filter { $0.region == "eu-west" }.map(\.kind)
            let failover = try #require(kinds.firstIndex(of: .failoverStarted))
            let recovery = try #require(kinds.firstIndex(of: .recoveryStarted))
            let failback = try #require(kinds.firstIndex(of: .failbackCompleted))
            #expect(failover < recovery && recovery < failback)
            await watch.close()
        }
    }

    /// The plan reaches a real HAProxy through its runtime API and the hook command:
    /// baseline weights once ready, then the failover.
    @Test func failoverIsAppliedToARealHAProxyAndTheHook() async throws {
        let directory = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let haproxy = try await startHAProxy(in: directory, servers: ["eu-west", "us-east-1"])
        defer { kill(haproxy, SIGKILL) }
        @Sendable func weight(_ server: String) async throws -> String { try await haproxyWeight(in: directory, server) }

        let haproxySection = """
            cooldown = "0s"

            [haproxy]
            socket = "\(directory)/admin.sock"
            backend = "app"

            [hook]
            command = ["/bin/sh", "-c", "echo \\"$REGIOND_PLAN\\" >> \(directory)/hook.log"]
            """
        try await failoverScenario(haproxySection, edit: { config in
            config.replacingOccurrences(of: "weight = 4000", with: "weight = 4000\nhaproxy_server = \"us-east-1\"")
        }) { daemon, eu in
            try await daemon.notify.wait(for: "READY=1")
            // The restored (baseline) plan is applied before READY=1.
            #expect(try await weight("eu-west") == "154 (initial 100)")
            #expect(try await weight("us-east-1") == "102 (initial 100)")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            eu.set(.error)
            _ = try await watch.readLine(containing: #""kind":"failover_started""#)
            // Each target says when it took the failover's plan (generation 2, after the start's),
            // in whatever order the targets, which apply concurrently, finish.
            #expect(try await HAProxyTrafficTests.waitForApplied(watch, targets: ["haproxy", "hook"], after: 1) == 2)
            #expect(try await weight("eu-west") == "0 (initial 100)")
            #expect(try await weight("us-east-1") == "256 (initial 100)")
            #expect(!daemon.stderr.contains("did not reach"), "\(daemon.stderr)")
            // The hook ran at start and for the failover.
            let hook = try String(contentsOfFile: "\(directory)/hook.log", encoding: .utf8)
            #expect(hook == "eu-west=6000 us-east=4000\neu-west=0 us-east=10000\n")
            let targets = try await traffic(daemon).targets ?? []
            #expect(targets.map(\.name) == ["state_file", "haproxy", "hook"])
            #expect(targets.allSatisfy { $0.ok }, "\(targets)")
            let shown = try await daemon.regionctl(["traffic"])
            #expect(shown.stdout.contains("applied to: state_file ok, haproxy ok, hook ok"), "\(shown.stdout)")
            await watch.close()
        }
    }

    /// An HAProxy that is not there is loud (STATUS=, regionctl) until it answers; then
    /// the re-send gives it the plan and the alarm goes.
    @Test func aMissingHAProxyIsLoudUntilItAnswers() async throws {
        let directory = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let section = "[haproxy]\nsocket = \"\(directory)/admin.sock\"\nbackend = \"app\"\nreapply_interval = \"1s\""
        try await failoverScenario(section) { daemon, _ in
            let ready = try await daemon.notify.wait(for: "READY=1")
            #expect(ready.contains("STATUS=PLAN NOT APPLIED to haproxy | "), "\(ready)")
            let status = try await daemon.regionctl(["status"])
            #expect(status.stdout.contains("PLAN NOT APPLIED to haproxy"), "\(status.stdout)")
            let traffic = try await daemon.regionctl(["traffic"])
            #expect(traffic.stdout.contains("HAPROXY NOT APPLIED since"), "\(traffic.stdout)")

            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            let before = daemon.notify.messages.count
            let haproxy = try await startHAProxy(in: directory, servers: ["eu-west", "us-east"])
            defer { kill(haproxy, SIGKILL) }
            let recovered = try await watch.readLine(containing: #""kind":"actuator_recovered""#)
            #expect(recovered.contains(#""actuator":"haproxy""#))
            #expect(try await haproxyWeight(in: directory, "eu-west") == "154 (initial 100)")
            try await daemon.notify.wait(for: "STATUS=2 regions", from: before)
            await watch.close()
        }
    }

    @Test func killDashNineDuringAGradualMoveResumesExactly() async throws {
        try await failoverScenario("strategy = \"gradual\"\ngradual_step = \"25%\"\ngradual_interval = \"3s\"\ncooldown = \"0s\"") { daemon, eu in
            try await daemon.notify.wait(for: "READY=1")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            eu.set(.error)
            _ = try await watch.readLine(containing: #""kind":"failover_started""#)
            _ = try await watch.readLine(containing: #""kind":"failover_step""#)
            await watch.close()
            let before = try await traffic(daemon)
            let eventsBefore = try await history(daemon)
            let rowBefore = try row(before, "eu-west")
            #expect(rowBefore.phase == "failing_over")
            #expect(rowBefore.share == 0.5)

            daemon.signal(SIGKILL)
            // Foundation reports a process killed by a signal with the signal's number.
            #expect(try await daemon.waitForExit() == .signaled(SIGKILL))
            let again = try await daemon.restart()
            try await again.notify.wait(for: "READY=1")
            // READY=1 comes after the state is restored: plan, phase and deadline are as they were.
            let after = try await traffic(again)
            let rowAfter = try row(after, "eu-west")
            #expect(rowAfter.phase == "failing_over")
            #expect(rowAfter.share == 0.5)
            #expect(rowAfter.nextStep == rowBefore.nextStep)
            #expect(after.regions.map(\.weight) == before.regions.map(\.weight))
            let eventsAfterRestart = try await history(again)
            #expect(Array(eventsAfterRestart.prefix(eventsBefore.count)) == eventsBefore, "no committed event lost or changed")

            // The move continues from where it was, not from the start.
            let watch2 = try await ControlConnection.open(again.socketPath)
            try await watch2.send(#"{"cmd":"watch"}"#)
            _ = try await watch2.readLine()
            _ = try await watch2.readLine(containing: #""kind":"failover_step""#)
            let continued = try row(try await traffic(again), "eu-west")
            #expect(continued.share == 0.25)
            let ids = try await history(again).map(\.id)
            #expect(Set(ids).count == ids.count, "no event recorded twice")
            #expect(ids == ids.sorted())
            await watch2.close()
            await again.cleanUp()
        }
    }

    @Test func killDashNineDuringTheRecoveryWindowKeepsItsStart() async throws {
        try await failoverScenario("recovery_window = \"20s\"\ncooldown = \"0s\"") { daemon, eu in
            try await daemon.notify.wait(for: "READY=1")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            eu.set(.error)
            _ = try await watch.readLine(containing: #""kind":"failover_started""#)
            eu.set(.ok)
            _ = try await watch.readLine(containing: #""kind":"recovery_started""#)
            await watch.close()
            let before = try row(try await traffic(daemon), "eu-west")
            #expect(before.phase == "recovering")
            let ends = try #require(before.recoveryEnds)

            daemon.signal(SIGKILL)
            _ = try await daemon.waitForExit()
            let again = try await daemon.restart()
            try await again.notify.wait(for: "READY=1")
            let after = try row(try await traffic(again), "eu-west")
            #expect(after.phase == "recovering")
            #expect(after.recoveryEnds == ends, "the window keeps its start across the crash")
            #expect(after.weight == 0)
            await again.cleanUp()
        }
    }

    @Test func cascadingSpillsDownTheChainInTheRunningDaemon() async throws {
        let steady = try await SwitchableTarget.start()
        let config = { (eu: Int) -> String in
            failoverConfig(eu: eu, us: steady.port, failover: "strategy = \"cascading\"\ncooldown = \"0s\"")
                .replacingOccurrences(of: "weight = 4000", with: "weight = 2000\nmax_weight = 3000")
                + """

                [[region]]
                id = "ap-south"
                tier = "tertiary"
                weight = 2000
                  [[region.endpoint]]
                  url = "http://127.0.0.1:\(steady.port)/healthz"
                """
        }
        do {
            try await scenario(config) { daemon, eu in
                try await daemon.notify.wait(for: "READY=1")
                try await daemon.notify.wait(for: "STATUS=3 regions: 3 healthy")
                let watch = try await ControlConnection.open(daemon.socketPath)
                try await watch.send(#"{"cmd":"watch"}"#)
                _ = try await watch.readLine()
                eu.set(.error)
                let started = try await watch.readLine(containing: #""kind":"failover_started""#)
                #expect(started.contains(#""strategy":"cascading""#))
                // us-east can hold 3000 in all (1000 more); the other 5000 spill to ap-south.
                #expect(started.contains(#""plan":"eu-west=0 us-east=3000 ap-south=7000""#), "\(started)")
                let report = try await traffic(daemon)
                #expect(report.strategy == "cascading")
                #expect(report.regions.map(\.weight) == [0, 3000, 7000])
                let journal = daemon.stderr
                #expect(journal.contains("failed over (error_rate, cascading)") || journal.contains("failed over (timeout, cascading)"))
                await watch.close()
            }
        } catch {
            await steady.stop()
            throw error
        }
        await steady.stop()
    }

    @Test func operatorCommandsAreRecordedWithWhoAndWhy() async throws {
        try await failoverScenario("strategy = \"manual\"") { daemon, eu in
            try await daemon.notify.wait(for: "READY=1")
            // Wait until both regions are known, so the command has a healthy target.
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let drain = try await daemon.regionctl(["drain", "eu-west", "--reason", "kernel upgrade"])
            #expect(drain.status == 0, "\(drain.stderr)")
            let euRow = drain.stdout.split(separator: "\n").first { $0.hasPrefix("eu-west ") }
            #expect(euRow?.split(separator: " ").dropFirst().first == "0", "\(drain.stdout)")
            let recorded = try await history(daemon).last { $0.kind == .operatorCommand }
            #expect(recorded?.fields["uid"] == "0")
            #expect(recorded?.fields["reason"] == "kernel upgrade")
            #expect(recorded?.fields["command"] == "drain")
            let pin = try await daemon.regionctl(["pin"])
            #expect(pin.status == 64, "pin needs a reason")
            let unknown = try await daemon.regionctl(["enable", "mars"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no region 'mars'"))
            let enable = try await daemon.regionctl(["enable", "eu-west"])
            #expect(enable.status == 0)
            // Its traffic returns on the failback ramp (4 steps over 60 s by default).
            let returning = try row(try await traffic(daemon), "eu-west")
            #expect(returning.phase == "failing_back", "\(returning)")
            #expect((1..<6000).contains(returning.weight), "\(returning)")
            _ = eu
        }
    }

    /// A hook that takes longer than the time between decisions holds neither of them
    /// back (their replies come while it still runs), and then gets the newest plan: the
    /// ones in between are superseded.
    @Test(.timeLimit(.minutes(2 * testSlowdown)))
    func aSlowHookDelaysNoDecisionAndGetsTheNewestPlan() async throws {
        let directory = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for generation in 2...4 { #expect(mkfifo("\(directory)/gate-\(generation)", 0o600) == 0) }
        // The start's plan (generation 1) passes at once; later ones log, then wait for the test.
        let script = #"echo "$REGIOND_PLAN_GENERATION $REGIOND_PLAN" >> "$0/runs"; [ "$REGIOND_PLAN_GENERATION" = 1 ] || read line < "$0/gate-$REGIOND_PLAN_GENERATION""#
        let section = "cooldown = \"0s\"\n\n[hook]\ncommand = [\"/bin/sh\", \"-c\", \"\(script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\", \"\(directory)\"]\ntimeout = \"60s\""
        try await failoverScenario(section) { daemon, _ in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            // Three decisions in a row; each reply means it is committed. The hook is still
            // blocked on the first of them when the last reply arrives.
            for command in [["drain", "eu-west"], ["enable", "eu-west"], ["drain", "eu-west"]] {
                let reply = try await daemon.regionctl(command + ["--reason", "test"])
                #expect(reply.status == 0, "\(reply.stderr)")
            }
            let before = try String(contentsOfFile: "\(directory)/runs", encoding: .utf8)
            #expect(before == "1 eu-west=6000 us-east=4000\n2 eu-west=0 us-east=10000\n", "the hook had moved on before it was let go")
            // Let it go: it finishes plan 2, then gets plan 4; plan 3 was superseded.
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            for generation in [2, 4] {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().async {
                        if let writer = FileHandle(forWritingAtPath: "\(directory)/gate-\(generation)") {
                            writer.write(Data("go\n".utf8))
                            try? writer.close()
                        }
                        done.resume()
                    }
                }
            }
            _ = try await watch.readLine(containingAll: [#""kind":"plan_applied""#, #""actuator":"hook""#, #""generation":"4""#])
            await watch.close()
            let hook = try #require(try await traffic(daemon).targets?.first { $0.name == "hook" })
            #expect(hook.ok && hook.appliedGeneration == 4)
            let runs = try String(contentsOfFile: "\(directory)/runs", encoding: .utf8)
            #expect(runs == "1 eu-west=6000 us-east=4000\n2 eu-west=0 us-east=10000\n4 eu-west=0 us-east=10000\n")
        }
    }
}
