import Foundation
import RegionCore
import Testing

/// What leads `STATUS=` and `regionctl status` while something beyond region statuses is wrong.
@Suite("alarms")
struct AlarmsTests {
    @Test(arguments: [
        (Alarms(), ""),
        (Alarms(targetsFailing: ["haproxy"]), "PLAN NOT APPLIED to haproxy | "),
        (Alarms(targetsFailing: ["haproxy", "hook"]), "PLAN NOT APPLIED to haproxy, hook | "),
        (Alarms(recording: false), "STATE DATABASE NOT WRITABLE, failover decisions refused | "),
        (
            Alarms(recording: false, targetsFailing: ["state_file"]),
            "STATE DATABASE NOT WRITABLE, failover decisions refused | PLAN NOT APPLIED to state_file | "
        ),
        (Alarms(panic: true), "NO HEALTHY TARGET, plan kept | "),
        (Alarms(panic: true, stranded: ["eu", "us"]), "NO HEALTHY TARGET for eu, us, plan kept | "),
        (
            Alarms(recording: false, held: ScheduleHealth.Hold(since: Date(timeIntervalSince1970: 0), reason: "probes start 450 ms late (p99)")),
            "DECISIONS HELD, regiond is overloaded: probes start 450 ms late (p99) | STATE DATABASE NOT WRITABLE, failover decisions refused | "
        ),
    ])
    func alarmsLeadTheSummary(alarms: Alarms, expected: String) {
        #expect(alarms.prefix == expected)
    }
}
