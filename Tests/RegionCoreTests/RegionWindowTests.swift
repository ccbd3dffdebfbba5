import Foundation
import Testing

@testable import RegionCore

/// Builds probe results at chosen seconds from a fixed origin.
struct Samples {
    static let origin = Date(timeIntervalSince1970: 1_800_000_000)

    static func at(_ seconds: Double) -> Date { origin.addingTimeInterval(seconds) }

    static func result(_ endpoint: String = "a", at seconds: Double, pass: Bool = true, latency: Double = 10, capacity: Double? = nil) -> ProbeResult {
        ProbeResult(
            endpoint: endpoint, scheduledAt: at(seconds), finishedAt: at(seconds), latencyMs: latency,
            failure: pass ? nil : .status, detail: pass ? "ok" : "status 500", capacity: capacity)
    }
}

@Suite("RegionWindow")
struct RegionWindowTests {
    @Test func errorRateAndPercentilesOverTheWindow() {
        var window = RegionWindow(length: .seconds(60))
        // 100 results: latencies 1...100 ms, every 10th failing.
        for i in 1...100 {
            window.record(Samples.result(at: Double(i) * 0.5, pass: i % 10 != 0, latency: Double(i)))
        }
        let m = window.metrics(now: Samples.at(50))
        #expect(m.samples == 100)
        #expect(m.failures == 10)
        #expect(m.errorRate == 0.1)
        // Passing latencies are 1...99 without multiples of 10: 90 values.
        #expect(m.latencyP50Ms == 49)
        #expect(m.latencyP95Ms == 95)
        #expect(m.latencyP99Ms == 99)
    }

    @Test func oldSamplesLeaveTheWindow() {
        var window = RegionWindow(length: .seconds(10))
        window.record(Samples.result(at: 0, pass: false))
        window.record(Samples.result(at: 5, pass: true))
        window.record(Samples.result(at: 9, pass: true))
        #expect(window.metrics(now: Samples.at(9)).failures == 1)
        let later = window.metrics(now: Samples.at(10.5))
        #expect(later.samples == 2)
        #expect(later.failures == 0)
        #expect(window.metrics(now: Samples.at(100)).samples == 0)
        #expect(window.count == 0)
    }

    @Test func capacityIsTheShareOfPassingEndpointsWhenNoneReportsOne() {
        var window = RegionWindow(length: .seconds(60))
        window.record(Samples.result("a", at: 1, pass: true))
        window.record(Samples.result("b", at: 1, pass: false))
        window.record(Samples.result("c", at: 1, pass: true))
        window.record(Samples.result("d", at: 1, pass: true))
        let m = window.metrics(now: Samples.at(2))
        #expect(m.capacity == 0.75)
        #expect(m.availability == 0.75)
        #expect(m.endpointsPassing == 3)
    }

    @Test func reportedCapacityCountsFailingEndpointsAsZero() {
        var window = RegionWindow(length: .seconds(60))
        window.record(Samples.result("a", at: 1, pass: true, capacity: 0.8))
        window.record(Samples.result("b", at: 1, pass: false))
        let m = window.metrics(now: Samples.at(2))
        #expect(m.capacity == 0.4)
    }

    @Test func theLatestResultPerEndpointWinsEvenWhenResultsArriveOutOfOrder() {
        var window = RegionWindow(length: .seconds(60))
        window.record(Samples.result("a", at: 5, pass: true))
        window.record(Samples.result("a", at: 4, pass: false))
        let m = window.metrics(now: Samples.at(6))
        #expect(m.endpointsPassing == 1)
        #expect(m.samples == 2)
        #expect(m.lastSuccessAt == Samples.at(5))
    }

    @Test func removedEndpointsNoLongerCount() {
        var window = RegionWindow(length: .seconds(60))
        window.record(Samples.result("a", at: 1, pass: true))
        window.record(Samples.result("gone", at: 1, pass: false))
        window.retainEndpoints(["a"])
        #expect(window.metrics(now: Samples.at(2)).capacity == 1)
    }
}
