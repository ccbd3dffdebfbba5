import Foundation
import Testing

@testable import RegionDaemon

/// `process_start_time_seconds` no longer reads /proc/stat (the unit's `ProcSubset=pid`
/// hides it); the boot time comes from the clocks instead and must agree with the kernel's.
@Suite("process_* metrics")
struct ProcessMetricsTests {
    @Test func bootTimeFromTheClocksAgreesWithProcStat() throws {
        let text = try String(contentsOfFile: "/proc/stat", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("btime ") })
        let btime = try #require(Double(line.dropFirst(6)))
        let boot = try #require(ProcessMetrics.bootTime())
        // btime is whole seconds; NTP adjustments since boot may move the two apart a little.
        #expect(abs(boot - btime) < 5, "boot time \(boot) vs btime \(btime)")
    }

    @Test func theStartTimeIsThisProcesssStart() throws {
        let start = try #require(ProcessMetrics.read().startTime)
        let now = Date().timeIntervalSince1970
        // This test process started before this line and, in any run, within the last day.
        #expect(start <= now + 1 && start > now - 86_400, "start \(start), now \(now)")
    }
}
