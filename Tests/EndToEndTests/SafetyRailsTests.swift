import Foundation
import RegionCore
import Testing

/// Issue 26's safety rails in a running regiond with real probes.
@Suite("safety rails end to end")
struct SafetyRailsEndToEndTests {
    /// `drain --for`: the end is committed, survives kill -9, and brings the traffic back
    /// with `maintenance_ended`.
    @Test func aDrainWithAnEndSurvivesKillDashNineAndEndsByItself() async throws {
        try await failoverScenario("cooldown = \"0s\"\nfailback_ramp = \"0s\"") { daemon, _ in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let drain = try await daemon.regionctl(["drain", "eu-west", "--for", "3s", "--reason", "CHG-1234"])
            #expect(drain.status == 0, "\(drain.stderr)")
            #expect(drain.stdout.contains("drain ends"), "\(drain.stdout)")
            #expect(drain.stdout.contains("drain by uid 0: CHG-1234"), "\(drain.stdout)")
            let before = try row(try await traffic(daemon), "eu-west")
            #expect(before.weight == 0)
            let end = try #require(before.maintenance?.end)

            daemon.signal(SIGKILL)
            _ = try await daemon.waitForExit()
            let again = try await daemon.restart()
            try await again.notify.wait(for: "READY=1")
            // Subscribe first, then look back: the end may have come while it restarted.
            let watch = try await ControlConnection.open(again.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            if try await !history(again).contains(where: { $0.kind == .maintenanceEnded }) {
                _ = try await watch.readLine(containing: #""kind":"maintenance_ended""#)
            }
            await watch.close()
            let ended = try #require(try await history(again).last { $0.kind == .maintenanceEnded })
            #expect(ended.time >= end, "it ended at its committed time, not before")
            guard case .maintenanceEnded(let note) = ended.payload else {
                Issue.record("not a maintenance_ended: \(ended)")
                return
            }
            #expect(note.reason == "CHG-1234" && note.until == end)
            let after = try row(try await traffic(again), "eu-west")
            #expect(after.maintenance == nil)
            #expect(after.admin == "enabled")
            #expect(after.weight == 6000, "\(after)")
            await again.cleanUp()
        }
    }

    /// `disable --at +1s --for 1s`: nothing happens until it begins; it begins and ends
    /// with an event each.
    @Test func aScheduledWindowBeginsAndEndsOnItsOwn() async throws {
        try await failoverScenario("cooldown = \"0s\"\nfailback_ramp = \"0s\"") { daemon, _ in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            let schedule = try await daemon.regionctl(["disable", "us-east", "--at", "+1s", "--for", "1s", "--reason", "rack power"])
            #expect(schedule.status == 0, "\(schedule.stderr)")
            #expect(schedule.stdout.contains("disable begins"), "\(schedule.stdout)")
            let scheduled = try row(try await traffic(daemon), "us-east")
            #expect(scheduled.maintenance?.begun == false)
            let started = try await watch.readLine(containing: #""kind":"maintenance_started""#)
            #expect(started.contains(#""plan":"eu-west=10000 us-east=0""#), "\(started)")
            let ended = try await watch.readLine(containing: #""kind":"maintenance_ended""#)
            #expect(ended.contains(#""plan":"eu-west=6000 us-east=4000""#), "\(ended)")
            await watch.close()
            let bad = try await daemon.regionctl(["drain", "eu-west", "--at", "noon"])
            #expect(bad.status == 64, "a time regionctl cannot read is a usage error")
            #expect(bad.stderr.contains("HH:MM"), "\(bad.stderr)")
        }
    }
}
