import FoundationEssentials

/// How traffic moves away from a failing region.
public enum FailoverStrategy: String, Sendable, Codable, CaseIterable {
    /// The whole share moves at once to the best healthy tier (weighted by capacity).
    case automatic
    /// The share moves `gradual_step` at a time, every `gradual_interval`.
    case gradual
    /// The share goes down the priority chain; each target takes what its spare capacity allows.
    case cascading
    /// Detection and alerts only; traffic moves on operator commands.
    case manual
    /// The whole share leaves at once (weight 0), and the move is complete once the load
    /// balancers report no session left on the region, or after `drain_timeout`.
    case graceful
}

/// Whether a recovered region gets its traffic back by itself.
public enum FailbackMode: String, Sendable, Codable, CaseIterable {
    case automatic
    /// Operators approve with `enable REGION`.
    case manual
}

/// Settings of the failover engine (`[failover]`).
public struct FailoverSettings: Sendable, Equatable, Codable {
    public var strategy: FailoverStrategy = .automatic
    /// Plan weights always sum to this (basis points by default).
    public var total: Int = 10_000
    /// After a region loses traffic, no automatic move of it (back or away) for this long.
    public var cooldown: Duration = .seconds(60)
    /// A recovered region must stay healthy this long before traffic fails back.
    public var recoveryWindow: Duration = .seconds(120)
    public var failback: FailbackMode = .automatic
    /// Share of the region's baseline moved per gradual step (also for gradual failback).
    public var gradualStep: Double = 0.25
    public var gradualInterval: Duration = .seconds(30)
    /// When no healthy target is left mid-way, move the share back instead of only halting.
    public var gradualReverse: Bool = false
    /// The graceful strategy waits at most this long for sessions to end.
    public var drainTimeout: Duration = .seconds(60)
    /// How a recovered region gets its traffic back, whatever the strategy that moved it
    /// (the gradual strategy ramps with its own step and interval).
    public var failbackRamp: FailbackRamp = .standard
    /// When a degraded region fails over (an unhealthy one always does).
    public var triggers = FailoverTriggers()
    /// The default of every region's `failover_within` (a label key).
    public var failoverWithin: String?
    /// Refuse automatic decisions that cannot be written to the state database.
    public var refuseUnrecorded: Bool = true
    /// History retention.
    public var historyMaxAge: Duration = .seconds(30 * 86_400)
    public var historyMaxEvents: Int = 100_000
    /// Alone: more than this fraction of enabled regions beginning to fail within
    /// `suspectWindow` holds automatic decisions (``SelfSuspicion``); 1: never.
    public var suspectFraction: Double = 0.5
    /// `[status] window`.
    public var suspectWindow: Duration = .seconds(60)

    public init() {}
}

/// A recovered region's traffic comes back in `steps` equal steps spread over `duration`
/// (HAProxy's `slowstart` in steps): cold caches and connection pools warm up on a part of
/// the load first. One step is all at once.
public struct FailbackRamp: Sendable, Equatable, Codable {
    public var steps: Int
    public var duration: Duration

    public init(steps: Int, duration: Duration) {
        self.steps = max(1, steps)
        self.duration = steps > 1 ? duration : .zero
    }

    /// 4 steps over 60 s: 25% at once, then 25% every 20 s, all of it 60 s later.
    public static let standard = FailbackRamp(steps: 4, duration: .seconds(60))
    /// All at once (`failback_ramp = "0s"`).
    public static let immediate = FailbackRamp(steps: 1, duration: .zero)

    /// The share each step adds.
    public var step: Double { 1 / Double(self.steps) }
    /// The time between steps.
    public var interval: Duration { self.steps > 1 ? self.duration / (self.steps - 1) : .zero }
    public var isImmediate: Bool { self.steps <= 1 }

    /// `4 steps over 60 s`, or `at once`.
    public var description: String { self.isImmediate ? "at once" : "\(self.steps) steps over \(formatDuration(self.duration))" }
}

/// When a degraded region fails over (`trigger_*` in `[failover]` or a region's own
/// `[region.failover]`). Each must be at least as strict as the matching degraded
/// threshold (`check-config` rejects one that is not): a region is only failed over once
/// it is degraded, so a looser trigger would act as the threshold and mislead.
public struct FailoverTriggers: Sendable, Equatable, Codable {
    /// Error rate above this.
    public var errorRate: Double = 0.10
    /// Capacity below this.
    public var capacity: Double = 0.50
    /// Latency (at the region's `latency_percentile`) above this.
    public var latency: Duration = .milliseconds(5000)
    /// No successful probe for this many evaluation intervals.
    public var timeoutIntervals: Int = 3

    public init() {}

    /// The trigger that fires on these metrics, if any; the first in this order: timeout,
    /// error rate, capacity, latency.
    public func fired(_ m: RegionMetrics, percentile: LatencyPercentile, evaluationInterval: Duration, now: Date) -> Trigger? {
        let silence = Double(self.timeoutIntervals) * evaluationInterval.seconds
        if m.samples > 0, let quiet = m.silence(now: now), quiet >= silence { return .timeout }
        if m.errorRate > self.errorRate { return .errorRate }
        if let c = m.capacity, c < self.capacity { return .capacity }
        if m.latency(percentile, isAbove: self.latency) { return .latency }
        return nil
    }
}

/// Why traffic moved.
public enum Trigger: String, Sendable, Codable, CaseIterable {
    case errorRate = "error_rate"
    case capacity
    case latency
    case timeout
    /// Unhealthy by the status thresholds, with no failover trigger above firing.
    case unhealthy
    case manual
}

/// What the engine needs to know about a region after one evaluation.
public struct RegionSignal: Sendable, Equatable, Codable {
    /// The status after hysteresis.
    public var status: RegionStatus
    /// This evaluation alone judged the region healthy (any `false` restarts a recovery window).
    public var passing: Bool
    /// The failover trigger that fires on the current metrics, if any.
    public var trigger: Trigger?
    /// 0...1; nil when unknown (counts as full).
    public var capacity: Double?
    /// Replication lag in seconds, as the region's endpoints report it; nil when none does.
    public var lag: Double?

    public init(status: RegionStatus, passing: Bool, trigger: Trigger? = nil, capacity: Double? = nil, lag: Double? = nil) {
        self.status = status
        self.passing = passing
        self.trigger = trigger
        self.capacity = capacity
        self.lag = lag
    }

    /// The failover condition: unhealthy, or degraded with a trigger firing.
    public var failing: Bool {
        self.status == .unhealthy || (self.status == .degraded && self.trigger != nil)
    }

    /// The trigger to record when the region fails over.
    public var firedTrigger: Trigger { self.trigger ?? .unhealthy }

    /// Builds the signal from one evaluation's metrics, with the region's own triggers.
    public static func from(
        status: RegionStatus, raw: Assessment, metrics m: RegionMetrics, triggers: FailoverTriggers, percentile: LatencyPercentile,
        evaluationInterval: Duration, now: Date
    ) -> RegionSignal {
        let trigger = triggers.fired(m, percentile: percentile, evaluationInterval: evaluationInterval, now: now)
        return RegionSignal(status: status, passing: raw.status == .healthy, trigger: trigger, capacity: m.capacity, lag: m.lag)
    }
}
