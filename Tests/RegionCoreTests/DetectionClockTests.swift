import Foundation
import Testing

@testable import RegionCore

/// Time to detect, as both `analytics` and the metrics count it.
@Suite("DetectionClock")
struct DetectionClockTests {
    static func event(_ second: Double, _ kind: EventKind, _ region: String = "eu", _ fields: [String: String] = [:]) -> Event {
        Event(time: Date(timeIntervalSince1970: 1_800_000_000 + second), kind: kind, region: region, message: "", fields: fields)
    }

    @Test func fromLeavingHealthyToTheFirstFailover() {
        var clock = DetectionClock()
        let seen = [
            Self.event(0, .statusChanged, "eu", ["status": "degraded"]),
            Self.event(1, .statusChanged, "eu", ["status": "unhealthy"]),  // still counts from 0
            Self.event(2.5, .failoverStarted),  // detected: 2.5 s
            Self.event(3, .failoverStarted),  // a further step of the same failure: not again
            Self.event(9, .statusChanged, "us", ["status": "degraded"]),
            Self.event(9.5, .statusChanged, "us", ["status": "healthy"]),  // recovered before any move
            Self.event(10, .failoverStarted, "us"),  // no leaving healthy to count from
            Self.event(20, .failbackCompleted),
            Self.event(30, .statusChanged, "eu", ["status": "unhealthy"]),
            Self.event(31, .failoverStarted),  // a new failure after failback: 1 s
            Self.event(40, .failbackCompleted),
            Self.event(41, .statusChanged, "eu", ["status": "unhealthy"]),
            Self.event(42, .operatorCommand, "eu", ["trigger": "manual"]),  // an operator moved it first
            Self.event(44, .failoverStarted),  // not a detection
        ].map { clock.observe($0) }
        #expect(seen == [nil, nil, 2.5, nil, nil, nil, nil, nil, nil, 1, nil, nil, nil, nil])
    }
}
