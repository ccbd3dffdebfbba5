import Foundation
import Testing

/// The shipped alerting rules are valid, and fire and resolve as their unit tests say
/// (Tests/prometheus/regiond.rules.test.yml), checked by Debian's promtool.
@Suite("Prometheus alerting rules")
struct AlertRulesTests {
    static let rules = Binaries.root.appendingPathComponent("etc/prometheus/regiond.rules.yml").path
    static let tests = Binaries.root.appendingPathComponent("Tests/prometheus/regiond.rules.test.yml").path

    @Test func promtoolChecksTheRules() async throws {
        let run = try await runProgram("/usr/bin/promtool", ["check", "rules", Self.rules])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("SUCCESS: 8 rules found"), "\(run.stdout)")
    }

    @Test func theRulesFireAndResolveAsTheirTestsSay() async throws {
        let run = try await runProgram("/usr/bin/promtool", ["test", "rules", Self.tests])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("SUCCESS"), "\(run.stdout)")
    }

    /// Every alert links to its row in docs/operations.md.
    @Test func everyAlertHasARunbookRow() throws {
        let rules = try String(contentsOfFile: Self.rules, encoding: .utf8)
        let operations = try String(contentsOf: Binaries.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let names = rules.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst(9)) : nil
        }
        #expect(names == ["RegiondDown", "RegionUnhealthy", "RegionFailedOver", "FailoverBlocked", "NoHealthyTarget", "ObserverSuspect", "PlanNotApplied", "ProbesFallingBehind"])
        for name in names {
            #expect(rules.contains("operations.md#\(name.lowercased())\""), "\(name) has no runbook_url")
            #expect(operations.contains("<a id=\"\(name.lowercased())\"></a>"), "docs/operations.md has no row for \(name)")
        }
    }
}
