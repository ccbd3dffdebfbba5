import Foundation
import Testing

/// The randomized fault test of cluster mode (`scripts/chaos.py`, docs/reliability.md),
/// one short schedule with a fixed seed: 3 etcd members and 3 regiond in network
/// namespaces, real partitions, kill -9, SIGSTOP past the lease, broken regions; then the
/// checker's invariants over every history, traffic.json and etcd. `make chaos` runs long
/// schedules with new seeds.
@Suite("cluster mode under a seeded fault schedule")
struct ChaosTests {
    @Test(.timeLimit(.minutes(5)))
    func aShortFixedScheduleKeepsEveryInvariant() async throws {
        let script = Binaries.root.appendingPathComponent("scripts/chaos.py").path
        let run = try await runProgram(
            "/usr/bin/python3", [script, "--seed", "20261207", "--seconds", "45", "--binaries", Binaries.directory, "--slowdown", "\(testSlowdown)"])
        #expect(run.status == 0, "chaos.py exited \(run.status):\n\(run.stdout.suffix(12_000))\n\(run.stderr.suffix(2000))")
    }
}
