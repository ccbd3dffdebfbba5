import Foundation

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
    /// Failover triggers (a degraded region fails over only when one fires; unhealthy always does).
    public var triggerErrorRate: Double = 0.10
    public var triggerCapacity: Double = 0.50
    public var triggerLatency: Duration = .milliseconds(5000)
    /// No successful probe for this many evaluation intervals.
    public var triggerTimeoutIntervals: Int = 3
    /// Refuse automatic decisions that cannot be written to the state database.
    public var refuseUnrecorded: Bool = true
    /// History retention.
    public var historyMaxAge: Duration = .seconds(30 * 86_400)
    public var historyMaxEvents: Int = 100_000

    public init() {}
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

    public init(status: RegionStatus, passing: Bool, trigger: Trigger? = nil, capacity: Double? = nil) {
        self.status = status
        self.passing = passing
        self.trigger = trigger
        self.capacity = capacity
    }

    /// The failover condition: unhealthy, or degraded with a trigger firing.
    public var failing: Bool {
        self.status == .unhealthy || (self.status == .degraded && self.trigger != nil)
    }

    /// The trigger to record when the region fails over.
    public var firedTrigger: Trigger { self.trigger ?? .unhealthy }

    /// Builds the signal from one evaluation's metrics.
    public static func from(
        status: RegionStatus, raw: Assessment, metrics m: RegionMetrics, settings s: FailoverSettings,
        evaluationInterval: Duration, now: Date
    ) -> RegionSignal {
        var trigger: Trigger?
        let silence = Double(s.triggerTimeoutIntervals) * evaluationInterval.seconds
        if m.samples > 0, let quiet = m.silence(now: now), quiet >= silence {
            trigger = .timeout
        } else if m.errorRate > s.triggerErrorRate {
            trigger = .errorRate
        } else if let c = m.capacity, c < s.triggerCapacity {
            trigger = .capacity
        } else if let p95 = m.latencyP95Ms, p95 > s.triggerLatency.milliseconds {
            trigger = .latency
        }
        return RegionSignal(status: status, passing: raw.status == .healthy, trigger: trigger, capacity: m.capacity)
    }
}
