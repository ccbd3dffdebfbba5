import Foundation
import NIOCore
import RegionCore
import Subprocess
import Testing

/// Config for one region probing `target` fast, so tests see changes quickly.
func fastConfig(targets: [(String, Int)], extra: String = "", daemon: String = "") -> String {
    var text = """
        [daemon]
        control_socket = "@SOCKET@"
        state_directory = "@DIR@"
        \(daemon)

        [probe]
        interval = "100ms"
        timeout = "500ms"
        jitter = 0

        [status]
        window = "3s"
        evaluation_interval = "100ms"
        min_samples = 2
        rise = 2
        fall = 2

        """
    for (id, port) in targets {
        text += """

            [[region]]
            id = "\(id)"
            weight = 100
              [[region.endpoint]]
              name = "api"
              url = "http://127.0.0.1:\(port)/healthz"

            """
    }
    return text + extra
}

/// Starts a switchable target and regiond on `config(port)`, runs `body`, and always cleans up.
func scenario(
    _ config: (Int) -> String,
    environment: [String: String] = [:],
    wrapper: [String] = [],
    _ body: (RunningDaemon, SwitchableTarget) async throws -> Void
) async throws {
    let target = try await SwitchableTarget.start()
    let daemon: RunningDaemon
    do {
        daemon = try await RunningDaemon.start(config: config(target.port), environment: environment, wrapper: wrapper)
    } catch {
        await target.stop()
        throw error
    }
    do {
        try await body(daemon, target)
    } catch {
        print("regiond stderr:\n\(daemon.stderr)")
        await daemon.cleanUp()
        await target.stop()
        throw error
    }
    await daemon.cleanUp()
    await target.stop()
}

@Suite("regiond end to end", .serialized)
struct DaemonLifecycleTests {
    /// Guards the harness itself: a child with SIGALRM blocked ignores `timeout`, and one
    /// with SIGTERM blocked ignores a stop, so a test could hang instead of failing.
    @Test func programsStartWithNoSignalBlocked() async throws {
        let result = try await runProgram("/bin/grep", ["^SigBlk:", "/proc/self/status"])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "SigBlk:\t0000000000000000")
    }

    @Test func readyOnlyOnceTheSocketAnswersThenStatusThenCleanStop() async throws {
        try await scenario({ port in fastConfig(targets: [("eu-west", port), ("us-east", port)]) }) { daemon, target in

            let ready = try await daemon.notify.wait(for: "READY=1")
            #expect(ready.contains("STATUS=2 regions"), "READY carries a status line: \(ready)")
            // READY=1 means the control socket already answers.
            let version = try await daemon.call("version", as: VersionReport.self)
            #expect(version.protocolVersion == 1)

            // Statuses settle to healthy and STATUS= follows them.
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let status = try await daemon.regionctl(["status"])
            #expect(status.status == 0)
            let rows = status.stdout.split(separator: "\n")
            #expect(rows.contains { $0.hasPrefix("eu-west ") && $0.contains(" healthy ") }, "\(status.stdout)")
            #expect(rows.contains { $0.hasPrefix("us-east ") && $0.contains(" healthy ") }, "\(status.stdout)")

            let json = try await daemon.regionctl(["regions", "--json"])
            let list = try ControlProtocol.decoder().decode(ControlReply<RegionList>.self, from: Data(json.stdout.utf8))
            #expect(list.result?.regions.map(\.status) == [.healthy, .healthy])
            // An error reply is an error with --json too: non-zero, the message on stderr, nothing on stdout.
            let unknown = try await daemon.regionctl(["region", "nowhere", "--json"])
            #expect(unknown.status == 1 && unknown.stdout.isEmpty, "\(unknown)")
            #expect(unknown.stderr.contains("nowhere"), "\(unknown.stderr)")

            // A watcher and an idle client must not hold the stop open.
            let watcher = try await ControlConnection.open(daemon.socketPath)
            try await watcher.send(#"{"cmd":"watch"}"#)
            _ = try await watcher.readLine()
            let idle = try await ControlConnection.open(daemon.socketPath)
            let before = daemon.notify.messages.count
            daemon.signal(SIGTERM)
            try await daemon.notify.wait(for: "STOPPING=1", from: before)
            #expect(try await daemon.waitForExit(limit: .seconds(5)) == .exited(0), "clean exit within 5 s")
            try await watcher.waitForClose()
            try await idle.waitForClose()
            #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "the socket file is removed on a clean stop")
        }
    }

    @Test func statusFollowsABrokenAndMendedTarget() async throws {
        try await scenario({ port in fastConfig(targets: [("eu-west", port)]) }) { daemon, target in
            try await daemon.notify.wait(for: "READY=1")

            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            #expect(try await watch.readLine()?.contains(#""watching":true"#) == true)
            try await daemon.notify.wait(for: "STATUS=1 regions: 1 healthy")  // the watch may start after it turned healthy

            // Each phase starts from healthy and waits for the change it causes.
            target.set(.error)
            let down = try await watch.readLine(containing: #""previous_status":"healthy""#)
            let event = try ControlProtocol.decoder().decode(WatchLine.self, from: Data(down.utf8)).event
            #expect(event.region == "eu-west")
            #expect(event.kind == .statusChanged)
            #expect(["degraded", "unhealthy"].contains(event.fields["status"]))
            try await daemon.notify.wait(for: "STATUS=1 regions: 1 ", from: 0)
            let report = try await daemon.call("region", region: "eu-west", as: RegionReport.self)
            #expect(report.endpoints.first?.last?.failure == .status)
            #expect(report.endpoints.first?.last?.detail == "status 500, expected 200")

            target.set(.ok)
            let up = try await watch.readLine(containing: #""status":"healthy""#)
            #expect(up.contains(#""previous_status":"unhealthy""#) || up.contains(#""previous_status":"degraded""#))

            target.set(.hang)
            // Wait for unhealthy, not for the first move away from healthy: that can come
            // before the hang, from 500s of the error phase still in the 3 s window (seen
            // once: "error rate 10.7% > 10%" while the last probe passed). The hang makes it
            // unhealthy once a timed-out probe counts: by "no probe succeeded for ..." (a
            // failure after the last success) or by the error rate.
            let left = try await watch.readLine(containing: #""status":"unhealthy""#)
            let hung = try await daemon.call("region", region: "eu-west", as: RegionReport.self)
            #expect(
                hung.endpoints.first?.last?.failure == .timeout || hung.reasons.contains { $0.contains("no probe succeeded") },
                "event: \(left)\nreasons: \(hung.reasons)\nlast: \(String(describing: hung.endpoints.first?.last))")
            await watch.close()
        }
    }

    @Test func reloadAppliesAGoodConfigAndRejectsABadOne() async throws {
        try await scenario({ port in fastConfig(targets: [("eu-west", port)]) }) { daemon, target in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "healthy")
            let probesBefore = try await daemon.call("region", region: "eu-west", as: RegionReport.self).endpoints[0].probes

            // A new region by SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1.
            let withNew = fastConfig(targets: [("eu-west", target.port), ("ap-south", target.port)])
            try withNew.replacingOccurrences(of: "@SOCKET@", with: daemon.socketPath).replacingOccurrences(of: "@DIR@", with: daemon.directory)
                .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
            let mark = daemon.notify.messages.count
            daemon.signal(SIGHUP)
            let reloading = try await daemon.notify.wait(for: "RELOADING=1", from: mark)
            #expect(reloading.contains("MONOTONIC_USEC="))
            try await daemon.notify.wait(for: "READY=1", from: mark + 1)
            let regions = try await daemon.call("regions", as: RegionList.self).regions.map(\.id)
            #expect(regions == ["eu-west", "ap-south"])
            // The unchanged region kept its monitor: its probe count went on, it did not restart from zero.
            let probesAfter = try await daemon.call("region", region: "eu-west", as: RegionReport.self).endpoints[0].probes
            #expect(probesAfter >= probesBefore)
            #expect(try await daemon.call("status", as: StatusReport.self).configGeneration == 2)

            // A bad config through regionctl: the error names file, line and key; the old config stays.
            try (withNew + "  timout = \"1s\"\n").replacingOccurrences(of: "@SOCKET@", with: daemon.socketPath)
                .replacingOccurrences(of: "@DIR@", with: daemon.directory)
                .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
            let rejected = try await daemon.regionctl(["reload"])
            #expect(rejected.status == 1)
            #expect(rejected.stderr.contains("\(daemon.configPath):"), "\(rejected.stderr)")
            #expect(rejected.stderr.contains("[reload_failed]"))
            try await daemon.notify.wait(for: "STATUS=reload failed: \(daemon.configPath):")
            let status = try await daemon.call("status", as: StatusReport.self)
            #expect(status.configGeneration == 2)
            #expect(status.lastReloadError?.contains("unknown key") == true)
            #expect(status.regions.count == 2)

            // Mend it and reload again through regionctl: the error clears.
            try withNew.replacingOccurrences(of: "@SOCKET@", with: daemon.socketPath).replacingOccurrences(of: "@DIR@", with: daemon.directory)
                .write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
            let accepted = try await daemon.regionctl(["reload"])
            #expect(accepted.status == 0, "\(accepted.stderr)")
            #expect(accepted.stdout.contains("generation 3"))
            #expect(try await daemon.call("status", as: StatusReport.self).lastReloadError == nil)
        }
    }

    @Test func watchdogIsFedWhenSystemdAsksForIt() async throws {
        try await scenario({ port in fastConfig(targets: [("eu-west", port)]) }, environment: ["WATCHDOG_USEC": "300000"]) { daemon, target in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "WATCHDOG=1")
        }
    }

    @Test func aBadConfigExitsWith78AndNamesFileLineAndKey() async throws {
        let directory = try makeTempDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/bad.toml"
        try "[[region]]\nid = \"eu\"\nweight = 10\n  [[region.endpoint]]\n  url = \"http://127.0.0.1:1/\"\n  timout = \"1s\"\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let run = try await runProgram(Binaries.regiond, ["--config", path])
        #expect(run.status == 78)
        #expect(run.stderr.contains("\(path):6: region[0].endpoint[0].timout: unknown key; did you mean 'timeout'?"), "\(run.stderr)")
        let check = try await runProgram(Binaries.regiond, ["check-config", path])
        #expect(check.status == 78)
        #expect(check.stderr.contains("\(path):6: region[0].endpoint[0].timout"))
        let good = try await runProgram(Binaries.regiond, ["check-config", Binaries.root.appendingPathComponent("etc/regiond/demo.toml").path])
        #expect(good.status == 0)
        #expect(good.stdout.contains("OK: 3 regions"))
    }

    @Test func regionctlExitStatusesMeanSomething() async throws {
        let missing = try await runProgram(Binaries.regionctl, ["status", "--socket", "/tmp/no-such-regiond.sock"])
        #expect(missing.status == 69)
        #expect(missing.stderr.contains("Is regiond running?"))
        let usage = try await runProgram(Binaries.regionctl, ["region"])
        #expect(usage.status == 64)
        let help = try await runProgram(Binaries.regionctl, ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("watch"))
        let completion = try await runProgram(Binaries.regionctl, ["--generate-completion-script", "bash"])
        #expect(completion.status == 0)
        #expect(completion.stdout.contains("_regionctl"))
    }

    @Test func anotherRegiondOnTheSameSocketIsRefused() async throws {
        try await scenario({ port in fastConfig(targets: [("eu-west", port)]) }) { daemon, target in
            try await daemon.notify.wait(for: "READY=1")
            let second = try await runProgram(Binaries.regiond, ["--config", daemon.configPath])
            #expect(second.status == 69)
            #expect(second.stderr.contains("another regiond is already listening"))
            #expect(try await daemon.call("version", as: VersionReport.self).version == RegiondVersion.string)
        }
    }
}
