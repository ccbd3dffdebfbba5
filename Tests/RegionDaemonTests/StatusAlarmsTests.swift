import RegionCore
import Testing

@testable import RegionDaemon

/// What leads `STATUS=` and `regionctl status` while something beyond region statuses is wrong.
@Suite("status alarms")
struct StatusAlarmsTests {
    static func target(_ name: String, ok: Bool) -> TrafficReport.Target { TrafficReport.Target(name: name, ok: ok) }

    @Test(arguments: [
        (true, [] as [(String, Bool)], ""),
        (true, [("state_file", true), ("haproxy", true)], ""),
        (true, [("state_file", true), ("haproxy", false)], "PLAN NOT APPLIED to haproxy | "),
        (true, [("haproxy", false), ("hook", false)], "PLAN NOT APPLIED to haproxy, hook | "),
        (false, [("state_file", true)], "STATE DATABASE NOT WRITABLE, failover decisions refused | "),
        (false, [("state_file", false)], "STATE DATABASE NOT WRITABLE, failover decisions refused | PLAN NOT APPLIED to state_file | "),
    ])
    func alarmsLeadTheSummary(recording: Bool, targets: [(String, Bool)], expected: String) {
        let alarms = Supervisor<ContinuousClock>.alarms(recording: recording, targets: targets.map { Self.target($0.0, ok: $0.1) })
        #expect(alarms == expected)
    }
}
