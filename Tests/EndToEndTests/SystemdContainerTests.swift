import Foundation
import Testing

/// regiond under a real systemd, booted in a container (see Tests/systemd/container-test.sh):
/// Type=notify readiness, StatusText, journal fields, reload, watchdog, stop, exit 78.
@Suite("regiond under systemd", .serialized)
struct SystemdContainerTests {
    @Test(.timeLimit(.minutes(15 * testSlowdown)))
    func regiondBehavesUnderARealSystemd() async throws {
        let script = Binaries.root.appendingPathComponent("Tests/systemd/container-test.sh").path
        let run = try await runProgram(script, [Binaries.directory])
        let summary = run.stdout.split(separator: "\n").last.map(String.init) ?? ""
        if run.status != 0 {
            print(run.stdout)
            print(run.stderr)
        }
        #expect(run.status == 0, "\(summary)")
        #expect(summary.hasSuffix("passed, 0 failed"), "\(summary)")
        #expect(!run.stdout.contains("not ok"))
    }
}
