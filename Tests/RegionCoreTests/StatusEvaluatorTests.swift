import Foundation
import Testing

@testable import RegionCore

@Suite("StatusEvaluator")
struct StatusEvaluatorTests {
    static func metrics(
        samples: Int = 60, errorRate: Double = 0, capacity: Double? = 1, p95: Double? = 20,
        lastSuccessAgo: Double? = 0.5, lastFailureAgo: Double? = 0.1, now: Double = 100
    ) -> RegionMetrics {
        RegionMetrics(
            samples: samples, failures: Int((Double(samples) * errorRate).rounded()), errorRate: errorRate,
            latencyP50Ms: p95.map { $0 / 2 }, latencyP95Ms: p95, latencyP99Ms: p95.map { $0 * 1.5 }, capacity: capacity,
            endpointsPassing: 1, endpointsReporting: 1, lastSuccessAt: lastSuccessAgo.map { Samples.at(now - $0) },
            lastFailureAt: lastFailureAgo.map { Samples.at(now - $0) }, windowSeconds: 60)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var metrics: RegionMetrics
        var status: RegionStatus
        var reason: String
        var testDescription: String { self.name }
    }

    /// Every threshold edge with the defaults: > and < are strict.
    static let rows: [Row] = [
        Row(name: "all good", metrics: metrics(), status: .healthy, reason: "within thresholds"),
        Row(name: "too few samples", metrics: metrics(samples: 2), status: .unknown, reason: "2 of 3 samples"),
        Row(name: "error rate exactly 10%", metrics: metrics(errorRate: 0.10), status: .healthy, reason: "within"),
        Row(name: "error rate just over 10%", metrics: metrics(errorRate: 0.101), status: .degraded, reason: "error rate 10.1% > 10% over last 60 s"),
        Row(name: "capacity exactly 50%", metrics: metrics(capacity: 0.5), status: .healthy, reason: "within"),
        Row(name: "capacity just under 50%", metrics: metrics(capacity: 0.49), status: .degraded, reason: "capacity 49% < 50%"),
        Row(name: "latency exactly 1000 ms", metrics: metrics(p95: 1000), status: .healthy, reason: "within"),
        Row(name: "latency over 1000 ms", metrics: metrics(p95: 1001), status: .degraded, reason: "latency p95 1001 ms > 1000 ms"),
        Row(name: "errors > 50% but capacity 20%", metrics: metrics(errorRate: 0.6, capacity: 0.2), status: .degraded, reason: "error rate 60%"),
        Row(name: "errors 50% and capacity < 20%", metrics: metrics(errorRate: 0.5, capacity: 0.1), status: .degraded, reason: "error rate 50%"),
        Row(name: "errors > 50% and capacity < 20%", metrics: metrics(errorRate: 0.51, capacity: 0.19), status: .unhealthy, reason: "error rate 51% > 50% and capacity 19% < 20%"),
        Row(name: "no success for fall x interval", metrics: metrics(lastSuccessAgo: 6), status: .unhealthy, reason: "no probe succeeded for 6 s (fall 3 x 2 s)"),
        Row(name: "last success just inside fall x interval", metrics: metrics(lastSuccessAgo: 5.9), status: .healthy, reason: "within"),
        Row(name: "never succeeded", metrics: metrics(errorRate: 1, capacity: 0, lastSuccessAgo: nil), status: .unhealthy, reason: "no probe succeeded in the window"),
        // Silence is evidence only when a counted failure came after the last success: probes
        // regiond left uncounted (it was starved) prove nothing.
        Row(name: "no success for 6 s, nothing counted since", metrics: metrics(lastSuccessAgo: 6, lastFailureAgo: 7), status: .healthy, reason: "within"),
        Row(name: "no success for 6 s and no failure ever", metrics: metrics(lastSuccessAgo: 6, lastFailureAgo: nil), status: .healthy, reason: "within"),
        Row(name: "no capacity known counts as full", metrics: metrics(capacity: nil), status: .healthy, reason: "within"),
    ]

    @Test(arguments: rows)
    func classifiesEveryThresholdEdge(_ row: Row) {
        let a = StatusEvaluator.classify(row.metrics, thresholds: StatusThresholds(), now: Samples.at(100))
        #expect(a.status == row.status)
        #expect(a.reasons.first?.contains(row.reason) == true, "\(a.reasons)")
    }

    @Test func thresholdsAreConfigurable() {
        var t = StatusThresholds()
        t.degradedErrorRate = 0.02
        t.degradedLatency = .milliseconds(100)
        t.latencyPercentile = .p99
        let m = Self.metrics(errorRate: 0.01, p95: 80)  // p99 = 120
        let a = StatusEvaluator.classify(m, thresholds: t, now: Samples.at(100))
        #expect(a.status == .degraded)
        #expect(a.reasons == ["latency p99 120 ms > 100 ms over last 60 s"])
    }

    /// Feeds one evaluation per second and returns the status after each.
    static func run(_ evaluator: inout StatusEvaluator, _ sequence: [RegionMetrics]) -> [RegionStatus] {
        sequence.map { m in
            _ = evaluator.evaluate(m, now: Samples.at(100))
            return evaluator.status
        }
    }

    static let good = metrics(now: 100)
    static let degraded = metrics(errorRate: 0.2)
    static let bad = metrics(errorRate: 0.9, capacity: 0.1)

    @Test func leavesUnknownAtOnceWithEnoughSamples() {
        var e = StatusEvaluator(thresholds: StatusThresholds())
        #expect(Self.run(&e, [Self.metrics(samples: 1), Self.good]) == [.unknown, .healthy])
    }

    @Test func fallNeedsConsecutiveWorseEvaluations() {
        var e = StatusEvaluator(thresholds: StatusThresholds())  // fall 3
        let statuses = Self.run(&e, [Self.good, Self.bad, Self.bad, Self.good, Self.bad, Self.bad, Self.bad])
        #expect(statuses == [.healthy, .healthy, .healthy, .healthy, .healthy, .healthy, .unhealthy])
    }

    @Test func riseNeedsConsecutiveBetterEvaluations() {
        var e = StatusEvaluator(thresholds: StatusThresholds())  // rise 2
        _ = Self.run(&e, [Self.good, Self.bad, Self.bad, Self.bad])
        #expect(e.status == .unhealthy)
        let statuses = Self.run(&e, [Self.good, Self.bad, Self.good, Self.good])
        #expect(statuses == [.unhealthy, .unhealthy, .unhealthy, .healthy])
    }

    @Test func aMixedWorseRunMovesToTheMildestStatusSeen() {
        var e = StatusEvaluator(thresholds: StatusThresholds())
        _ = Self.run(&e, [Self.good, Self.degraded, Self.bad, Self.bad])
        #expect(e.status == .degraded)
        #expect(e.reasons.first?.hasPrefix("error rate 20%") == true, "reasons match the status moved to: \(e.reasons)")
        _ = Self.run(&e, [Self.bad, Self.bad, Self.bad])
        #expect(e.status == .unhealthy)
    }

    @Test func aMixedBetterRunMovesToTheWorstStatusSeen() {
        var e = StatusEvaluator(thresholds: StatusThresholds())
        _ = Self.run(&e, [Self.good, Self.bad, Self.bad, Self.bad])
        _ = Self.run(&e, [Self.degraded, Self.good])
        #expect(e.status == .degraded)
    }

    @Test func tooFewSamplesKeepTheCurrentStatus() {
        var e = StatusEvaluator(thresholds: StatusThresholds())
        _ = Self.run(&e, [Self.good, Self.bad, Self.bad])
        #expect(e.pending?.observed.count == 2)
        _ = Self.run(&e, [Self.metrics(samples: 0)])
        #expect(e.status == .healthy)
        #expect(e.pending == nil, "a gap in the data breaks the run")
    }

    @Test func changeCarriesFromToAndTime() {
        var e = StatusEvaluator(thresholds: StatusThresholds())
        var t = StatusThresholds()
        t.fall = 1
        e.thresholds = t
        _ = e.evaluate(Self.good, now: Samples.at(1))
        let change = e.evaluate(Self.bad, now: Samples.at(2))
        #expect(change == StatusChange(from: .healthy, to: .unhealthy, reasons: e.reasons, at: Samples.at(2)))
        #expect(e.since == Samples.at(2))
    }
}

@Suite("When the next evaluation round comes")
struct EvaluationRoundTests {
    /// (due, now, expected next), milliseconds from one base instant, a 1 s interval.
    @Test(arguments: [
        (0, 0, 1000),  // on time: one interval on, on the same beat
        (0, 400, 1000),  // late by less than an interval: still on the beat
        (0, 1000, 1000),  // exactly one interval late: the beat is now
        (0, 1001, 2001),  // more than an interval late: one interval from now, no catch-up round
        (0, 5300, 6300),
        (3000, 2500, 4000),  // the clock reads before due (a round run early): on the beat
    ])
    func nextRoundKeepsTheBeatUnlessItIsAlreadyPast(due: Int, now: Int, expected: Int) {
        let base = ContinuousClock.now
        let next = StatusEvaluator.nextRound(after: base + .milliseconds(due), now: base + .milliseconds(now), interval: .seconds(1))
        #expect(next == base + .milliseconds(expected))
    }
}
