/// When an endpoint's probes are due: the rule, without a clock.
///
/// Times are offsets on any monotonic time line (the shell uses the event loop's
/// clock). A probe is due every `interval`, moved by up to `jitter` of an interval
/// either way. The next probe is planned only once the last one has ended, so an
/// endpoint's probes never overlap; slots missed while a probe ran long, or while
/// the process was stopped or overloaded, are skipped, not replayed in a burst,
/// and a late endpoint keeps to one probe per interval.
public struct ProbeCadence: Sendable, Equatable {
    public var interval: Duration
    /// The share of an interval (0...1) by which a due time may move either way.
    public var jitter: Double

    public init(interval: Duration, jitter: Double) {
        self.interval = interval
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The first due time: `fraction` (0..<1) of an interval after `start`, so that the
    /// first probes of many endpoints spread over one interval instead of all at once.
    public func first(after start: Duration, fraction: Double) -> Duration {
        start + self.interval * min(max(fraction, 0), 1)
    }

    /// The due time after a probe that was due at `due` and ended at `end`.
    /// `spread` (-1...1) picks where in the jitter band it lands. When that time has
    /// already passed, the probe goes to the first later slot of its interval grid:
    /// a late endpoint is probed once per interval, never back to back. (Probing
    /// "as soon as the last one ended" made an overloaded daemon probe every endpoint
    /// continuously, which only deepened the overload.)
    public func next(after due: Duration, endedAt end: Duration, spread: Double) -> Duration {
        let planned = due + self.interval * (1 + self.jitter * min(max(spread, -1), 1))
        guard planned < end, self.interval > .zero else { return max(planned, end) }
        let missed = ((end - planned) / self.interval).rounded(.up)
        return planned + self.interval * missed
    }

    /// When the timer for a probe due at `due` fires: the nearest multiple of `slot`.
    /// Probes due within the same slot on one event loop then start in one wake-up
    /// instead of one each; waking and sleeping was half of the daemon's CPU. A probe
    /// starts at most half a slot early or late.
    public static func timer(for due: Duration, slot: Duration) -> Duration {
        // In whole nanoseconds: uptime can be large enough for a Double to round.
        func nanoseconds(_ d: Duration) -> Int64 { d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000 }
        let width = nanoseconds(slot)
        guard width > 0 else { return due }
        let at = nanoseconds(due)
        let slots = at >= 0 ? (at + width / 2) / width : -((-at + width / 2 - 1) / width)
        return .nanoseconds(slots * width)
    }

    /// How late a probe started against its due time (never negative).
    public static func lateness(due: Duration, startedAt start: Duration) -> Duration {
        max(.zero, start - due)
    }
}

/// SplitMix64: a small, fast pseudo-random generator for jitter.
///
/// `SystemRandomNumberGenerator` makes a `getrandom` system call per number, once per
/// probe; jitter needs spread, not secrecy. Seed it once from the system generator.
public struct JitterRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A spread for ``ProbeCadence/next(after:endedAt:spread:)``, even over -1..<1: the top
    /// 53 bits of one draw. `Double.random(in:using:)` does the same through generic code,
    /// at a measurable share of a probe's user time.
    public mutating func spread() -> Double {
        Double(self.next() >> 11) * 0x1p-52 - 1
    }
}
