import Foundation
import RegionCore
import Testing

/// A full disk under the state database: a real fault, made with a tiny tmpfs.
@Suite("state database faults", .serialized)
struct StateDatabaseFaultTests {
    @Test func aFullDiskRefusesUnrecordedDecisionsAndRecoversWhenSpaceReturns() async throws {
        let mountPoint = try makeTempDirectory()
        let mount = try await runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
        try #require(mount.status == 0, "mounting a tmpfs needs root: \(mount.stderr)")
        defer {
            _ = try? FileManager.default.removeItem(atPath: "\(mountPoint)/fill")
        }
        do {
            try await self.fillTheDisk(stateDirectory: mountPoint)
        } catch {
            _ = try? await runProgram("/bin/umount", ["-l", mountPoint])
            throw error
        }
        _ = try await runProgram("/bin/umount", ["-l", mountPoint])
        try? FileManager.default.removeItem(atPath: mountPoint)
    }

    @Test func aDatabaseThatCannotBeOpenedStillProbesButMovesNothing() async throws {
        let steady = try await SwitchableTarget.start()
        let config = { (port: Int) in
            failoverConfig(eu: port, us: steady.port, failover: "cooldown = \"0s\"")
                .replacingOccurrences(of: "state_directory = \"@DIR@\"", with: "state_directory = \"/proc/regiond-cannot-be-here\"")
        }
        do {
            try await scenario(config) { daemon, eu in
                try await daemon.notify.wait(for: "READY=1")
                // traffic.json cannot be written there either.
                try await daemon.notify.wait(
                    for: "STATUS=STATE DATABASE NOT WRITABLE, failover decisions refused | PLAN NOT APPLIED to state_file | 2 regions: 2 healthy")
                eu.set(.error)
                try await daemon.notify.wait(for: "2 regions: 1 healthy")
                let report = try await traffic(daemon)
                #expect(!report.recording)
                #expect(try row(report, "eu-west").weight == 6000, "nothing moves without a record of it")
                #expect(daemon.stderr.contains("cannot create the state directory /proc/regiond-cannot-be-here"))
            }
        } catch {
            await steady.stop()
            throw error
        }
        await steady.stop()
    }

    func fillTheDisk(stateDirectory: String) async throws {
        let steady = try await SwitchableTarget.start()
        let config = { (port: Int) in
            failoverConfig(eu: port, us: steady.port, failover: "cooldown = \"0s\"")
                .replacingOccurrences(of: "state_directory = \"@DIR@\"", with: "state_directory = \"\(stateDirectory)\"")
        }
        do {
            try await self.refusesThenRecovers(config, stateDirectory: stateDirectory)
        } catch {
            await steady.stop()
            throw error
        }
        await steady.stop()
    }

    func refusesThenRecovers(_ config: (Int) -> String, stateDirectory: String) async throws {
        try await scenario(config) { daemon, eu in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            // Fill the disk.
            let fill = try await runProgram("/bin/dd", ["if=/dev/zero", "of=\(stateDirectory)/fill", "bs=64k"])
            #expect(fill.stderr.contains("No space left"), "\(fill.stderr)")

            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            eu.set(.error)
            let alert = try await watch.readLine(containing: #""kind":"history_unavailable""#)
            #expect(alert.contains("refusing decisions that cannot be recorded"))
            try await daemon.notify.wait(for: "STATUS=STATE DATABASE NOT WRITABLE")
            let held = try await traffic(daemon)
            #expect(!held.recording)
            #expect(try row(held, "eu-west").weight == 6000, "no decision that could not be recorded was acted on")
            let status = try await daemon.regionctl(["status"])
            #expect(status.stdout.contains("STATE DATABASE NOT WRITABLE"))
            let command = try await daemon.regionctl(["drain", "us-east"])
            #expect(command.status == 1, "an operator command that cannot be recorded is refused too")

            // Space returns: the refused decision is retried and recorded, then acted on.
            try FileManager.default.removeItem(atPath: "\(stateDirectory)/fill")
            _ = try await watch.readLine(containing: #""kind":"failover_started""#)
            let moved = try await traffic(daemon)
            #expect(moved.recording)
            #expect(try row(moved, "eu-west").weight == 0)
            #expect(try await history(daemon).contains { $0.kind == .failoverStarted && $0.region == "eu-west" })
            await watch.close()
        }
    }
}
