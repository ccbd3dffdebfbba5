import Foundation
import Testing

@testable import RegionCore

@Suite("[[alert]]: which events go out")
struct AlertRuleTests {
    static func at(_ s: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + s) }
    /// An event of `kind` (what it carries does not matter to the gate).
    static func event(_ kind: EventKind) -> Event {
        let payload: EventPayload =
            switch kind {
            case .failoverStarted: Payload.failover()
            case .statusChanged: Payload.status(.degraded)
            case .alertFailed: .alertFailed(AlertUndelivered(alert: "a", alertKind: .failoverStarted, alertEventID: 1, attempts: 3, error: "x"))
            case .noHealthyTarget: .noHealthyTarget(Stranded(regions: []))
            case .planChanged: .planChanged
            case .capacityExhausted: .capacityExhausted
            case .reloadFailed: .reloadFailed(ReloadRejected(reason: "x", config: "c"))
            case .actuatorFailed: .actuatorFailed(PlanDelivery(actuator: "hook", generation: 1, plan: "", error: "x"))
            default: .planChanged
            }
        return Event(time: Self.at(0), message: "m", payload)
    }

    /// (seconds, kind) in order, for one rule; what the gate says for each.
    @Test(arguments: [
        // Default kinds and priority: a failover goes out, a status change (notice) and a
        // plan change do not; alert_failed never does, or a broken alert would loop.
        (AlertRule(name: "a", command: ["x"]), [(0.0, EventKind.failoverStarted), (1, .statusChanged), (2, .planChanged), (3, .alertFailed)],
         ["deliver", "-", "-", "-"]),
        // Rate limit per kind: the same kind within a minute is held back, another kind is not.
        (AlertRule(name: "a", command: ["x"]), [(0, .failoverStarted), (30, .failoverStarted), (31, .noHealthyTarget), (60, .failoverStarted)],
         ["deliver", "held since 0", "deliver", "deliver"]),
        // rate_limit = 0: everything.
        (AlertRule(name: "a", command: ["x"], rateLimit: .zero), [(0, .failoverStarted), (0.1, .failoverStarted)], ["deliver", "deliver"]),
        // min_priority = err: warnings (failover_started) stay out, crit and err go.
        (AlertRule(name: "a", command: ["x"], minPriority: .err), [(0, .failoverStarted), (1, .noHealthyTarget), (2, .actuatorFailed)],
         ["-", "deliver", "deliver"]),
        // Chosen kinds, with a priority low enough to take them.
        (AlertRule(name: "a", command: ["x"], kinds: [.statusChanged], minPriority: .notice), [(0, .statusChanged), (1, .failoverStarted)],
         ["deliver", "-"]),
    ] as [(AlertRule, [(Double, EventKind)], [String])])
    func theGateFiltersAndRateLimits(rule: AlertRule, events: [(Double, EventKind)], expected: [String]) {
        var gate = AlertGate(rule: rule)
        let verdicts = events.map { second, kind -> String in
            switch gate.judge(Self.event(kind), now: Self.at(second)) {
            case .deliver: "deliver"
            case .notForThisRule: "-"
            case .rateLimited(let last): "held since \(Int(last.timeIntervalSince(Self.at(0))))"
            }
        }
        #expect(verdicts == expected)
    }

    @Test func retriesBackOffUpToThirtySeconds() {
        #expect((1...7).map { AlertRule.backoff(beforeRetry: $0) } == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
    }

    static let region = "[[region]]\nid = \"a\"\nweight = 1\n  [[region.endpoint]]\n  url = \"http://a/\"\n"

    @Test func aRuleReadsWithItsDefaults() throws {
        let config = try ConfigLoader.parse(Self.region + "[[alert]]\ncommand = [\"/bin/true\"]\n[[alert]]\nname = \"pager\"\ncommand = [\"/bin/true\"]\nkinds = [\"no_healthy_target\"]\nmin_priority = \"crit\"\ntimeout = \"3s\"\nretries = 0\nrate_limit = \"0s\"\n", file: "f")
        #expect(config.alerts == [
            AlertRule(name: "alert-1", command: ["/bin/true"]),
            AlertRule(name: "pager", command: ["/bin/true"], kinds: [.noHealthyTarget], minPriority: .crit, timeout: .seconds(3), retries: 0, rateLimit: .zero),
        ])
    }

    @Test(arguments: [
        ("[[alert]]\nname = \"x\"", "alert[0].command", "needs the command"),
        ("[[alert]]\ncommand = []", "alert[0].command", "as an array"),
        ("[[alert]]\ncommand = [\"/bin/true\"]\nkinds = [\"failover_strated\"]", "alert[0].kinds", "'failover_strated' is not an event kind"),
        ("[[alert]]\ncommand = [\"/bin/true\"]\nkinds = [\"alert_failed\"]", "alert[0].kinds", "is not an event kind regiond alerts on"),
        ("[[alert]]\ncommand = [\"/bin/true\"]\nkinds = []", "alert[0].kinds", "would never alert"),
        ("[[alert]]\ncommand = [\"/bin/true\"]\nmin_priority = \"warn\"", "alert[0].min_priority", "one of emerg, alert, crit, err, warning"),
        ("[[alert]]\ncommand = [\"/bin/true\"]\nretries = 11", "alert[0].retries", "0"),
        ("[[alert]]\ncommand = [\"/bin/true\"]\ntimeout = \"9999h\"", "alert[0].timeout", "out of range; use 100ms to 5m"),
        ("[[alert]]\nname = \"p\"\ncommand = [\"/bin/true\"]\n[[alert]]\nname = \"p\"\ncommand = [\"/bin/true\"]", "alert[1].name", "another [[alert]]"),
    ])
    func aBadRuleNamesTheKey(_ text: String, _ key: String, _ message: String) {
        do {
            _ = try ConfigLoader.parse(Self.region + text + "\n", file: "f")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.issues.contains { $0.key == key && $0.message.contains(message) }, "got: \(error.description)")
        }
    }
}
