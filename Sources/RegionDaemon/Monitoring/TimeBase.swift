import Foundation
import RegionCore

/// Turns instants of an injected clock into the `Date`s the pure core works with.
///
/// Dates advance with the clock (monotonic in production), so a wall-clock
/// step does not make the sliding windows jump; the origin is the wall time at start.
public struct TimeBase<C: Clock>: Sendable where C.Duration == Duration {
    public let clock: C
    let originInstant: C.Instant
    let originDate: Date

    public init(clock: C, originDate: Date = Date()) {
        self.clock = clock
        self.originInstant = clock.now
        self.originDate = originDate
    }

    public func date(_ instant: C.Instant) -> Date {
        self.originDate.addingTimeInterval(self.originInstant.duration(to: instant).seconds)
    }

    public var now: Date { self.date(self.clock.now) }
}
