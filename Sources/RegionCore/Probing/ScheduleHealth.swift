/// Whether probing keeps its schedule, judged from probe start lateness (p99 over the
/// recent probes), with hysteresis so one slow moment does not flap the verdict.
///
/// A daemon that probes more than its cores can carry starts probes late; late probes
/// miss their timeouts and healthy regions read unhealthy. That must be said loudly,
/// once, and again once it is over.
public struct ScheduleHealth: Sendable, Equatable {
    /// Overloaded once lateness p99 goes above this ...
    public var overloadedAboveMs: Double
    /// ... and on schedule again once it is back below this.
    public var recoveredBelowMs: Double
    public private(set) var overloaded = false

    public enum Change: Sendable, Equatable {
        case overloaded(p99Ms: Double)
        case recovered(p99Ms: Double)
    }

    public init(overloadedAboveMs: Double = 100, recoveredBelowMs: Double = 25) {
        self.overloadedAboveMs = overloadedAboveMs
        self.recoveredBelowMs = recoveredBelowMs
    }

    /// Takes the latest lateness p99 (nil: no probe yet) and returns a change of verdict, if any.
    public mutating func observe(latenessP99Ms: Double?) -> Change? {
        guard let p99 = latenessP99Ms else { return nil }
        if !self.overloaded, p99 > self.overloadedAboveMs {
            self.overloaded = true
            return .overloaded(p99Ms: p99)
        }
        if self.overloaded, p99 < self.recoveredBelowMs {
            self.overloaded = false
            return .recovered(p99Ms: p99)
        }
        return nil
    }
}
