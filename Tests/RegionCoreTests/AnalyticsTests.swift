import Foundation
import Testing

@testable import RegionCore

@Suite("Analytics")
struct AnalyticsTests {
    func event(_ at: Double, _ payload: EventPayload, _ region: String) -> Event {
        Event(at: t(at), payload, region: region)
    }

    @Test func countsTimesAndRates() {
        let events = [
            self.event(0, Payload.status(.healthy, was: .unknown), "eu"),
            self.event(100, Payload.status(.degraded), "eu"),
            self.event(102, Payload.failover(.automatic, .errorRate), "eu"),
            self.event(110, Payload.status(.unhealthy, was: .degraded), "eu"),
            self.event(200, Payload.status(.healthy, was: .unhealthy), "eu"),
            self.event(322, .failbackCompleted, "eu"),
            self.event(400, Payload.blocked(), "us"),
            self.event(500, Payload.command("failover", moves: true), "us"),
        ]
        let report = Analytics.compute(events, now: t(600))
        #expect(report.failovers == 2)
        #expect(report.failoversByStrategy == ["automatic": 1, "operator": 1])
        #expect(report.failoversByTrigger == ["error_rate": 1, "manual": 1])
        #expect(report.blocked == 1)
        #expect(report.successRate == 2.0 / 3.0)
        #expect(report.timeToDetectP50 == 2)
        #expect(report.timeToFailbackP50 == 220)
        #expect(report.secondsInStatus == ["healthy": 500, "degraded": 10, "unhealthy": 90])
    }

    @Test func anEmptyHistoryHasNoRates() {
        let report = Analytics.compute([], now: t(0))
        #expect(report.failovers == 0)
        #expect(report.successRate == nil)
        #expect(report.timeToDetectP50 == nil)
    }
}
