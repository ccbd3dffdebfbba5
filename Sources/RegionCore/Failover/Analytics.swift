import FoundationEssentials

/// Result of `analytics`: what the history says about failovers.
public struct AnalyticsReport: Sendable, Codable, Equatable {
    /// First and last event considered.
    public var from: Date?
    public var to: Date?
    /// Moves of traffic away from a region: automatic ones (`failover_started`) and an
    /// operator's (`failover`, `drain`, `disable` of a region with traffic).
    public var failovers: Int
    public var failoversByStrategy: [String: Int]
    public var failoversByTrigger: [String: Int]
    /// Automatic failovers by where the traffic went: `healthy` regions, or `degraded` ones
    /// (the best available when nothing healthy could take it).
    public var failoversByRung: [String: Int] = [:]
    /// Needed failovers that could not happen (`failover_blocked`: manual, pin, cooldown, no target).
    public var blocked: Int
    /// failovers / (failovers + blocked); nil when there were none.
    public var successRate: Double?
    /// Per strategy: moves committed, moves every plan target applied (it took that plan or a
    /// later one), and moves that were needed but blocked.
    public var strategies: [String: StrategyOutcome] = [:]
    public var failbacks: Int
    /// Recoveries: failbacks completed against recovery windows that failed (the region
    /// failed again) or restarted (an evaluation that was not healthy).
    public var recoveriesFailed: Int = 0
    public var recoveriesRestarted: Int = 0
    /// failbacks / (failbacks + failed + restarted); nil when there were none.
    public var recoverySuccessRate: Double?
    /// Time to detect (MTTD): seconds from a region leaving healthy to its failover.
    public var timeToDetect: Durations?
    /// Time to recover (MTTR): seconds from a failover to the region's traffic back.
    public var timeToRecover: Durations?
    /// Kept for clients of the first analytics: p50 and max of the two above.
    public var timeToDetectP50: Double?
    public var timeToDetectMax: Double?
    public var timeToFailbackP50: Double?
    public var timeToFailbackMax: Double?
    /// Seconds spent in each status, summed over regions.
    public var secondsInStatus: [String: Double]
    /// Per region: seconds without its whole share (from a move away to its failback), in the period.
    public var secondsFailedOver: [String: Double] = [:]
    /// With `region`: its plan weight over the period, one point per change.
    public var plan: RegionPlanHistory?

    public struct StrategyOutcome: Sendable, Codable, Equatable {
        public var committed = 0
        public var applied = 0
        public var blocked = 0
        /// committed / (committed + blocked); nil when there were none.
        public var successRate: Double? { self.committed + self.blocked == 0 ? nil : Double(self.committed) / Double(self.committed + self.blocked) }
        /// applied / committed; nil when nothing was committed.
        public var appliedRate: Double? { self.committed == 0 ? nil : Double(self.applied) / Double(self.committed) }
    }

    /// Mean, p50, p95 and max of a set of durations, in seconds.
    public struct Durations: Sendable, Codable, Equatable {
        public var count: Int
        public var mean: Double
        public var p50: Double
        public var p95: Double
        public var max: Double

        init?(_ values: [Double]) {
            let sorted = values.sorted()
            guard let p50 = Percentile.nearestRank(sorted, 0.5), let p95 = Percentile.nearestRank(sorted, 0.95), let max = sorted.last else { return nil }
            self.count = sorted.count
            self.mean = sorted.reduce(0, +) / Double(sorted.count)
            self.p50 = p50
            self.p95 = p95
            self.max = max
        }
    }

    /// One region's weight in the plan over time.
    public struct RegionPlanHistory: Sendable, Codable, Equatable {
        public var region: String
        public struct Point: Sendable, Codable, Equatable {
            public var time: Date
            public var weight: Int
            public var total: Int
        }
        /// Each change of its weight (the first point: its weight when the period starts, if known).
        public var points: [Point]
        /// Its share of the plan averaged over the time covered by `points` (0...1).
        public var averageShare: Double?
    }
}
