import Foundation
import Testing

@testable import RegionCore

@Suite("Analytics")
struct AnalyticsTests {
    func event(_ at: Double, _ kind: EventKind, _ region: String, _ fields: [String: String] = [:]) -> Event {
        Event(time: t(at), kind: kind, region: region, message: "", fields: fields)
    }

    @Test func countsTimesAndRates() {
        let events = [
            self.event(0, .statusChanged, "eu", ["status": "healthy"]),
            self.event(100, .statusChanged, "eu", ["status": "degraded"]),
            self.event(102, .failoverStarted, "eu", ["strategy": "automatic", "trigger": "error_rate"]),
            self.event(110, .statusChanged, "eu", ["status": "unhealthy"]),
            self.event(200, .statusChanged, "eu", ["status": "healthy"]),
            self.event(322, .failbackCompleted, "eu"),
            self.event(400, .failoverBlocked, "us", ["reason": "pinned"]),
            self.event(500, .operatorCommand, "us", ["trigger": "manual", "command": "failover"]),
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
