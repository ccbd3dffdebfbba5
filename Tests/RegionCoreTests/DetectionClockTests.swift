import Foundation
import Testing

@testable import RegionCore

/// Time to detect, as both `analytics` and the metrics count it.
@Suite("DetectionClock")
struct DetectionClockTests {
    static func event(_ second: Double, _ payload: EventPayload, _ region: String = "eu") -> Event {
        Event(at: Date(timeIntervalSince1970: 1_800_000_000 + second), payload, region: region)
    }

    @Test func fromLeavingHealthyToTheFirstFailover() {
        var clock = DetectionClock()
        let seen = [
            Self.event(0, Payload.status(.degraded), "eu"),
            Self.event(1, Payload.status(.unhealthy), "eu"),  // still counts from 0
            Self.event(2.5, Payload.failover()),  // detected: 2.5 s
            Self.event(3, Payload.failover()),  // a further step of the same failure: not again
            Self.event(9, Payload.status(.degraded), "us"),
            Self.event(9.5, Payload.status(.healthy), "us"),  // recovered before any move
            Self.event(10, Payload.failover(), "us"),  // no leaving healthy to count from
            Self.event(20, .failbackCompleted),
            Self.event(30, Payload.status(.unhealthy), "eu"),
            Self.event(31, Payload.failover()),  // a new failure after failback: 1 s
            Self.event(40, .failbackCompleted),
            Self.event(41, Payload.status(.unhealthy), "eu"),
            Self.event(42, Payload.command("failover", moves: true), "eu"),  // an operator moved it first
            Self.event(44, Payload.failover()),  // not a detection
        ].map { clock.observe($0) }
        #expect(seen == [nil, nil, 2.5, nil, nil, nil, nil, nil, nil, 1, nil, nil, nil, nil])
    }
}
