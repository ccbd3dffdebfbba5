import FoundationEssentials

/// Which latency percentile the degraded-latency threshold looks at.
public enum LatencyPercentile: String, Sendable, Codable, CaseIterable {
    case p50, p95, p99

    /// 0.50, 0.95, 0.99.
    public var fraction: Double {
        switch self {
        case .p50: 0.50
        case .p95: 0.95
        case .p99: 0.99
        }
    }
}

/// Thresholds and hysteresis of the status evaluator (`[status]`, or per region).
public struct StatusThresholds: Sendable, Equatable {
    /// How far back the sliding window looks.
    public var window: Duration = .seconds(60)
    /// How often a region is evaluated; rise and fall count evaluations.
    public var evaluationInterval: Duration = .seconds(2)
    /// Fewer samples than this in the window: status `unknown`.
    public var minSamples: Int = 3
    /// Consecutive better evaluations needed to move to a better status.
    public var rise: Int = 2
    /// Consecutive worse evaluations needed to move to a worse status.
    public var fall: Int = 3
    /// Error rate above this: degraded.
    public var degradedErrorRate: Double = 0.10
    /// Error rate above this *and* capacity below `unhealthyCapacity`: unhealthy.
    public var unhealthyErrorRate: Double = 0.50
    /// Capacity below this: degraded.
    public var degradedCapacity: Double = 0.50
    /// Capacity below this (with error rate above `unhealthyErrorRate`): unhealthy.
    public var unhealthyCapacity: Double = 0.20
    /// Latency (at `latencyPercentile`) above this: degraded.
    public var degradedLatency: Duration = .milliseconds(1000)
    public var latencyPercentile: LatencyPercentile = .p95

    public init() {}
}

/// A status with the reasons for it.
public struct Assessment: Sendable, Equatable, Codable {
    public var status: RegionStatus
    public var reasons: [String]

    public init(status: RegionStatus, reasons: [String]) {
        self.status = status
        self.reasons = reasons
    }
}

/// A change of a region's status, as decided by ``StatusEvaluator``.
public struct StatusChange: Sendable, Equatable {
    public var from: RegionStatus
    public var to: RegionStatus
    public var reasons: [String]
    public var at: Date
}

/// Turns window metrics into a region status, with rise/fall hysteresis.
///
/// Pure: every call is given the metrics and `now`; nothing here reads a clock.
public struct StatusEvaluator: Sendable {
    public enum Direction: String, Sendable, Codable { case worse, better }

    /// Evaluations in a row that point away from the current status.
    public struct Pending: Sendable, Equatable, Codable {
        public var direction: Direction
        public var observed: [RegionStatus]
        public var needed: Int
    }

    public var thresholds: StatusThresholds
    /// How the region's endpoints combine (`require`, `critical`).
    public var requirement = EndpointRequirement()
    public private(set) var status: RegionStatus = .unknown
    public private(set) var reasons: [String] = ["waiting for samples"]
    public private(set) var since: Date?
    public private(set) var pending: Pending?
    /// The last evaluation's own classification, before hysteresis.
    public private(set) var lastRaw: Assessment?
    /// The reasons of each observation in `pending`, to report the right ones on a move.
    private var pendingReasons: [[String]] = []

    public init(thresholds: StatusThresholds) {
        self.thresholds = thresholds
    }

    /// Restores an evaluator at a known status (used after a reload changes thresholds).
    public init(thresholds: StatusThresholds, status: RegionStatus, reasons: [String], since: Date?) {
        self.thresholds = thresholds
        self.status = status
        self.reasons = reasons
        self.since = since
    }

    /// The raw status the metrics call for, without hysteresis.
    public static func classify(_ m: RegionMetrics, thresholds t: StatusThresholds, requirement: EndpointRequirement = EndpointRequirement(), now: Date) -> Assessment {
        guard m.samples >= t.minSamples else {
            return Assessment(status: .unknown, reasons: ["\(m.samples) of \(t.minSamples) samples needed in the window"])
        }
        let windowText = "over last \(formatSeconds(m.windowSeconds))"
        var unhealthy: [String] = []
        var degraded: [String] = []

        let silence = Double(t.fall) * t.evaluationInterval.seconds
        if let quiet = m.silence(now: now), quiet >= silence {
            let since = quiet.isFinite ? "for \(formatSeconds(quiet))" : "in the window"
            unhealthy.append("no probe succeeded \(since) (fall \(t.fall) x \(formatSeconds(t.evaluationInterval.seconds)))")
        }
        let capacity = m.capacity ?? 1
        // With `require`, the count of passing endpoints replaces the pool's error-rate rule.
        unhealthy += requirement.unhealthyReasons(m)
        if requirement.require == .pooled, m.errorRate > t.unhealthyErrorRate && capacity < t.unhealthyCapacity {
            unhealthy.append(
                "error rate \(percent(m.errorRate)) > \(percent(t.unhealthyErrorRate)) and capacity \(m.capacityText ?? percent(capacity)) < \(percent(t.unhealthyCapacity)) \(windowText)"
            )
        }
        if m.errorRate > t.degradedErrorRate {
            degraded.append("error rate \(percent(m.errorRate)) > \(percent(t.degradedErrorRate)) \(windowText)")
        }
        if capacity < t.degradedCapacity {
            degraded.append("capacity \(m.capacityText ?? percent(capacity)) < \(percent(t.degradedCapacity))")
        }
        if m.latency(t.latencyPercentile, isAbove: t.degradedLatency), let latency = m.latencyText(t.latencyPercentile) {
            degraded.append("latency \(t.latencyPercentile.rawValue) \(latency) > \(formatMs(t.degradedLatency.milliseconds)) \(windowText)")
        }
        if !unhealthy.isEmpty { return Assessment(status: .unhealthy, reasons: unhealthy + degraded) }
        if !degraded.isEmpty { return Assessment(status: .degraded, reasons: degraded) }
        var summary = "error rate \(percent(m.errorRate)), capacity \(m.capacityText ?? percent(capacity))"
        if let latency = m.latencyText(t.latencyPercentile) { summary += ", latency \(t.latencyPercentile.rawValue) \(latency)" }
        return Assessment(status: .healthy, reasons: ["within thresholds: \(summary) \(windowText)"])
    }

    /// Evaluates once. Returns the change when the status moves.
    ///
    /// Leaving `unknown` needs no streak (the sample minimum is its hysteresis).
    /// Otherwise a worse status needs `fall` worse evaluations in a row and moves to
    /// the mildest status seen in that run; a better one needs `rise` better
    /// evaluations in a row and moves to the worst status seen in that run.
    /// An evaluation with too few samples keeps the current status.
    public mutating func evaluate(_ metrics: RegionMetrics, now: Date) -> StatusChange? {
        let raw = Self.classify(metrics, thresholds: self.thresholds, requirement: self.requirement, now: now)
        self.lastRaw = raw
        if self.status == .unknown {
            guard raw.status != .unknown else {
                self.reasons = raw.reasons
                return nil
            }
            return self.move(to: raw.status, reasons: raw.reasons, now: now)
        }
        guard raw.status != .unknown else {
            self.pending = nil
            return nil
        }
        if raw.status == self.status {
            self.pending = nil
            self.reasons = raw.reasons
            return nil
        }
        let direction: Direction = raw.status > self.status ? .worse : .better
        let needed = direction == .worse ? self.thresholds.fall : self.thresholds.rise
        if var pending = self.pending, pending.direction == direction {
            pending.observed.append(raw.status)
            self.pending = pending
            self.pendingReasons.append(raw.reasons)
        } else {
            self.pending = Pending(direction: direction, observed: [raw.status], needed: needed)
            self.pendingReasons = [raw.reasons]
        }
        guard let pending = self.pending, pending.observed.count >= needed else { return nil }
        let target = direction == .worse ? pending.observed.min()! : pending.observed.max()!
        // Report the reasons of the latest evaluation that called for the target status.
        let index = pending.observed.lastIndex(of: target)!
        return self.move(to: target, reasons: self.pendingReasons[index], now: now)
    }

    private mutating func move(to status: RegionStatus, reasons: [String], now: Date) -> StatusChange {
        let change = StatusChange(from: self.status, to: status, reasons: reasons, at: now)
        self.status = status
        self.reasons = reasons
        self.since = now
        self.pending = nil
        self.pendingReasons = []
        return change
    }
}

extension StatusEvaluator {
    /// When the evaluation after the one `due` at comes: one interval later, on the same
    /// beat; or, when that is already past (the round ran late by more than an interval),
    /// one interval from `now`, so a late round is not followed by a burst of catch-up rounds.
    public static func nextRound<I: InstantProtocol>(after due: I, now: I, interval: I.Duration) -> I {
        let next = due.advanced(by: interval)
        return next < now ? now.advanced(by: interval) : next
    }
}
