/// Which probe loop each region's monitor runs on.
///
/// Every wake-up of a loop costs a context switch, and probes due in the same timer slot
/// share one only when they are on the same loop: at 1,000 probes a second one loop spent
/// 15-30% less CPU per probe than two (docs/performance.md). So regions fill the first
/// loop up to `fillUpTo` probes a second before the next loop is used; once every loop is
/// that full, a region goes to the least loaded one.
public struct LoopPlacement: Sendable, Equatable {
    public let loops: Int
    /// Probes a second a loop takes before regions spill to the next one.
    public let fillUpTo: Double
    /// Probes a second placed on each loop.
    public private(set) var load: [Double]
    private var placed: [String: Placed] = [:]

    struct Placed: Sendable, Equatable {
        var loop: Int
        var rate: Double
    }

    /// The rate one loop takes before the next is used; see docs/performance.md.
    public static let defaultFill = 4_000.0

    public init(loops: Int, fillUpTo: Double = Self.defaultFill) {
        self.loops = max(1, loops)
        self.fillUpTo = fillUpTo
        self.load = Array(repeating: 0, count: max(1, loops))
    }

    /// The loop of `region`, which probes `rate` times a second. A region already placed
    /// keeps its loop (its rate is updated).
    public mutating func place(_ region: String, rate: Double) -> Int {
        let rate = rate.isFinite ? max(0, rate) : 0
        if let existing = self.placed[region] {
            self.load[existing.loop] += rate - existing.rate
            self.placed[region] = Placed(loop: existing.loop, rate: rate)
            return existing.loop
        }
        let loop = self.load.indices.first { self.load[$0] + rate <= self.fillUpTo }
            ?? self.load.indices.min { self.load[$0] < self.load[$1] }!
        self.load[loop] += rate
        self.placed[region] = Placed(loop: loop, rate: rate)
        return loop
    }

    /// Frees the share of a region that is gone.
    public mutating func remove(_ region: String) {
        guard let existing = self.placed.removeValue(forKey: region) else { return }
        self.load[existing.loop] = max(0, self.load[existing.loop] - existing.rate)
    }

    /// The loop `region` is on, if placed.
    public func loop(of region: String) -> Int? { self.placed[region]?.loop }
}

extension RegionConfig {
    /// Probes a second this region's endpoints make (each at its own interval).
    public var probesPerSecond: Double {
        self.endpoints.reduce(0) { sum, endpoint in
            let seconds = endpoint.interval.seconds
            return seconds > 0 ? sum + 1 / seconds : sum
        }
    }
}
