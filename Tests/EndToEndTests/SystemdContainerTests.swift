import Foundation
import Testing

/// regiond under a real systemd, booted in a container without the Swift toolchain (see
/// Tests/systemd/container-test.sh): its .deb built, linted, installed, upgraded, removed
/// and purged; the hardening score; Type=notify readiness, StatusText, journal fields,
/// reload, the watchdog restarting a frozen and a stalled regiond, the socket unit holding
/// clients through a restart, stop, exit 78.
@Suite("regiond under systemd", .serialized)
struct SystemdContainerTests {
    /// Under ThreadSanitizer too: the package keeps its symbols there and the container gets
    /// llvm-symbolizer, so suppressions match by name (without them swift-subprocess's known
    /// report went unmatched and halted regiond).
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
