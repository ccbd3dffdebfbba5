import Foundation
import Testing

@testable import RegionCore

/// The latency rules fire as written: a timed-out probe counts as "more than its
/// timeout", the trigger looks at the configured percentile, and capacity says where it
/// came from.
@Suite("Latency and capacity rules")
struct LatencyRuleTests {
    static func result(_ at: Double, ms: Double, failure: ProbeFailure? = nil, endpoint: String = "api", capacity: Double? = nil) -> ProbeResult {
        ProbeResult(endpoint: endpoint, scheduledAt: t(at), finishedAt: t(at), latencyMs: ms, failure: failure, capacity: capacity)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        /// Latencies in ms; a negative value is a timeout at its absolute value.
        var probes: [Double]
        var p95: Double?
        var atLeast: Bool
        /// Whether p95 is above 1000 ms and above 5000 ms.
        var above1s: Bool
        var above5s: Bool
        var testDescription: String { self.name }
    }

    @Test(arguments: [
        Row(name: "fast answers", probes: [20, 30, 40], p95: 40, atLeast: false, above1s: false, above5s: false),
        Row(name: "1.5 s answers (timeout 5 s)", probes: [1500, 1500, 1500], p95: 1500, atLeast: false, above1s: true, above5s: false),
        Row(name: "6 s answers behind a 5 s timeout", probes: [-5000, -5000, -5000], p95: 5000, atLeast: true, above1s: true, above5s: true),
        Row(name: "6 s answers with a 10 s timeout", probes: [6000, 6000, 6000], p95: 6000, atLeast: false, above1s: true, above5s: true),
        Row(name: "a 1 s timeout is over 1000 ms", probes: [-1000, -1000, 10], p95: 1000, atLeast: true, above1s: true, above5s: false),
        Row(name: "exactly 1000 ms answered is not above", probes: [1000, 1000], p95: 1000, atLeast: false, above1s: false, above5s: false),
        Row(name: "one timeout in twenty is the p95", probes: Array(repeating: 10, count: 19) + [-5000], p95: 10, atLeast: false, above1s: false, above5s: false),
        Row(name: "two timeouts in twenty reach the p95", probes: Array(repeating: 10, count: 18) + [-5000, -5000], p95: 5000, atLeast: true, above1s: true, above5s: true),
        Row(name: "refused probes carry no latency", probes: [], p95: nil, atLeast: false, above1s: false, above5s: false),
    ])
    func timeoutsCountAsMoreThanTheirTimeout(_ row: Row) {
        var window = RegionWindow(length: .seconds(60))
        for (index, ms) in row.probes.enumerated() {
            window.record(Self.result(Double(index), ms: abs(ms), failure: ms < 0 ? .timeout : nil))
        }
        if row.probes.isEmpty { window.record(Self.result(0, ms: 1, failure: .refused)) }
        let m = window.metrics(now: t(30))
        #expect(m.latencyP95Ms == row.p95)
        #expect((m.latencyAtLeast?.contains(.p95) ?? false) == row.atLeast)
        #expect(m.latency(.p95, isAbove: .milliseconds(1000)) == row.above1s)
        #expect(m.latency(.p95, isAbove: .milliseconds(5000)) == row.above5s)
        if row.atLeast { #expect(m.latencyText(.p95)?.hasPrefix("over ") == true) }
    }

    @Test func aSlowRegionIsDegradedAndOnlyAVerySlowOneFailsOver() {
        var thresholds = StatusThresholds()
        thresholds.minSamples = 2
        let triggers = FailoverTriggers()
        for (ms, timedOut, status, trigger) in [
            (1500.0, false, RegionStatus.degraded, Trigger?.none), (6000, false, .degraded, .latency), (5000, true, .unhealthy, .timeout),
        ] {
            var window = RegionWindow(length: .seconds(60))
            for i in 0..<3 { window.record(Self.result(Double(i), ms: ms, failure: timedOut ? .timeout : nil)) }
            let m = window.metrics(now: t(3))
            let assessment = StatusEvaluator.classify(m, thresholds: thresholds, now: t(3))
            #expect(assessment.status == status, "\(ms) ms: \(assessment.reasons)")
            #expect(assessment.reasons.contains { $0.contains("latency p95") }, "\(assessment.reasons)")
            #expect(triggers.fired(m, percentile: .p95, evaluationInterval: .seconds(2), now: t(10)) == trigger, "\(ms) ms")
        }
    }

    @Test func theLatencyTriggerUsesTheConfiguredPercentile() {
        var window = RegionWindow(length: .seconds(60))
        // Half the probes at 6 s: p95 and p99 are 6 s, p50 is fast.
        for i in 0..<10 { window.record(Self.result(Double(i), ms: i % 2 == 0 ? 6000 : 20)) }
        let m = window.metrics(now: t(10))
        let triggers = FailoverTriggers()
        #expect(triggers.fired(m, percentile: .p95, evaluationInterval: .seconds(2), now: t(10)) == .latency)
        #expect(triggers.fired(m, percentile: .p50, evaluationInterval: .seconds(2), now: t(10)) == nil)
    }

    @Test func capacitySaysWhereItCameFrom() {
        var passing = RegionWindow(length: .seconds(60))
        passing.record(Self.result(0, ms: 5, endpoint: "a"))
        passing.record(Self.result(0, ms: 5, failure: .refused, endpoint: "b"))
        let fromEndpoints = passing.metrics(now: t(1))
        #expect(fromEndpoints.capacitySource == .passingEndpoints)
        #expect(fromEndpoints.capacityText == "50% (1 of 2 endpoints passing)")

        var reported = RegionWindow(length: .seconds(60))
        reported.record(Self.result(0, ms: 5, endpoint: "a", capacity: 0.5))
        #expect(reported.metrics(now: t(1)).capacityText == "50% (reported)")

        passing.record(Self.result(0, ms: 5, failure: .refused, endpoint: "c"))
        var thresholds = StatusThresholds()
        thresholds.minSamples = 1
        let reasons = StatusEvaluator.classify(passing.metrics(now: t(1)), thresholds: thresholds, now: t(1)).reasons.joined(separator: "; ")
        #expect(reasons.contains("capacity 33.3% (1 of 3 endpoints passing) < 50%"), "\(reasons)")
    }
}
