import FoundationEssentials

/// A region as the failover engine sees it (from `[[region]]`).
public struct FailoverRegion: Sendable, Equatable, Codable {
    /// The largest baseline weight a region may have (config `weight`, `set-weights`).
    public static let maximumWeight = 1_000_000

    public var id: String
    /// Lower is tried first.
    public var priority: Int
    /// Baseline weight.
    public var weight: Int
    /// The most traffic this region can take at full capacity, in plan units.
    public var maxWeight: Int
    public var enabled: Bool
    /// This region's own strategy and cooldown (`[region.failover]`); nil: `[failover]`'s.
    public var strategy: FailoverStrategy?
    public var cooldown: Duration?
    /// The regions this region's traffic may go to (data residency); nil: any region.
    public var allowedTargets: [String]?
    /// Replication lag (seconds) at or above which the region takes no moved traffic and
    /// does not get its own back; nil: no guard.
    public var maxLag: Double?
    /// This region's own failback ramp; nil: `[failover]`'s.
    public var failbackRamp: FailbackRamp?

    public init(
        id: String, priority: Int, weight: Int, maxWeight: Int, enabled: Bool = true, strategy: FailoverStrategy? = nil, cooldown: Duration? = nil,
        allowedTargets: [String]? = nil, maxLag: Double? = nil, failbackRamp: FailbackRamp? = nil
    ) {
        self.failbackRamp = failbackRamp
        self.id = id
        self.priority = priority
        self.weight = weight
        self.maxWeight = maxWeight
        self.enabled = enabled
        self.strategy = strategy
        self.cooldown = cooldown
        self.allowedTargets = allowedTargets
        self.maxLag = maxLag
    }

    /// Whether this region's traffic may go to `target`.
    public func mayMove(to target: String) -> Bool {
        self.allowedTargets.map { $0.contains(target) } ?? true
    }
}

/// What an operator made of a region.
public enum AdminState: String, Sendable, Codable {
    case enabled
    /// No traffic at once, never a target, until enabled.
    case disabled
    /// Traffic moved away (following the strategy) and held away until enabled.
    case drained
}

/// Where a region is in the failover cycle. Times are wall-clock, so they survive restarts.
public enum RegionPhase: Sendable, Equatable, Codable {
    /// Has its baseline share (or is ramping to it through `failingBack`).
    case serving
    /// A gradual move away is in progress; the next step is due at `nextStep`.
    case failingOver(trigger: Trigger, since: Date, nextStep: Date)
    /// The graceful strategy: its share is gone, and the move completes once the load
    /// balancers report no session left on it, or at `until` (`drain_timeout`).
    case draining(trigger: Trigger, since: Date, until: Date)
    /// Its share has gone; waiting for it to be healthy again.
    case failedOver(trigger: Trigger, since: Date)
    /// Healthy again; traffic returns when the window ends at `until` with no failed evaluation.
    case recovering(since: Date, until: Date)
    /// Window complete; waiting for the cooldown, a pin, its lag, or an operator (`failback = "manual"`).
    case awaitingFailback(since: Date)
    /// A gradual failback is in progress.
    case failingBack(nextStep: Date)

    /// Every phase name, for metrics that show one series per phase.
    public static let names = ["serving", "failing_over", "draining", "failed_over", "recovering", "awaiting_failback", "failing_back"]

    public var name: String {
        switch self {
        case .serving: "serving"
        case .failingOver: "failing_over"
        case .draining: "draining"
        case .failedOver: "failed_over"
        case .recovering: "recovering"
        case .awaitingFailback: "awaiting_failback"
        case .failingBack: "failing_back"
        }
    }
}

/// The engine's knowledge of one region.
public struct RegionRuntime: Sendable, Equatable, Codable {
    public var phase: RegionPhase = .serving
    /// The fraction of its baseline the region keeps (1 = all of it).
    public var share: Double = 1
    /// No automatic move of this region before this time.
    public var cooldownUntil: Date?
    public var admin: AdminState = .enabled
    /// Operator-chosen target for this region's share (`failover FROM TO`).
    public var target: String?
    /// Operator-chosen strategy for this region's current move.
    public var strategy: FailoverStrategy?
    /// The operator sent this region's traffic outside its allowed targets, with a reason.
    public var residencyOverride: String?
    /// The last alert raised for this region, so it is raised once, not every round.
    public var alert: RegionAlert?
    /// A drain or disable that ends by itself, or one scheduled to begin later.
    public var maintenance: Maintenance?

    public init() {}
}

/// An operator's freeze of automatic moves.
public struct Pin: Sendable, Equatable, Codable {
    public var reason: String
    public var by: UInt32
    public var since: Date
    /// nil: until `unpin`.
    public var until: Date?

    public init(reason: String, by: UInt32, since: Date, until: Date?) {
        self.reason = reason
        self.by = by
        self.since = since
        self.until = until
    }
}

/// Everything the engine must remember across restarts. Stored as one JSON document.
public struct EngineState: Sendable, Equatable, Codable {
    public var regions: [String: RegionRuntime]
    public var pin: Pin?
    /// Baseline weights set by `set-weights`, replacing the config's.
    public var weightOverride: [String: Int]?
    /// The plan in force.
    public var plan: TrafficPlan
    /// True while no healthy target exists for traffic that must move (the plan is kept).
    public var panic: Bool

    public init(regions: [String: RegionRuntime], pin: Pin? = nil, weightOverride: [String: Int]? = nil, plan: TrafficPlan, panic: Bool = false) {
        self.regions = regions
        self.pin = pin
        self.weightOverride = weightOverride
        self.plan = plan
        self.panic = panic
    }
}

/// A command from an operator (control socket).
public enum OperatorCommand: Sendable, Equatable {
    /// `overrideResidency`: send the traffic to `to` even outside `from`'s allowed targets
    /// (recorded with the reason).
    case failover(from: String, to: String?, strategy: FailoverStrategy?, overrideResidency: Bool = false)
    case drain(String, MaintenanceWindow = .untilEnabled)
    case enable(String)
    case disable(String, MaintenanceWindow = .untilEnabled)
    case setWeights([String: Int])
    case pin(ttl: Duration?)
    case unpin
    /// Alone: the regions that failed at once really failed; decisions resume (``SelfSuspicion``).
    case confirm

    public var name: String {
        switch self {
        case .failover: "failover"
        case .drain: "drain"
        case .enable: "enable"
        case .disable: "disable"
        case .setWeights: "set-weights"
        case .pin: "pin"
        case .unpin: "unpin"
        case .confirm: "confirm"
        }
    }
}

/// What one engine call decided: the plan now in force and the events that explain it.
public struct Decision: Sendable, Equatable {
    public var plan: TrafficPlan
    public var planChanged: Bool
    public var events: [Event]
}

extension RegionBrief {
    /// A healthy region whose traffic has not come back yet is reported `recovering`:
    /// inside its recovery window, waiting to fail back, or failing back step by step.
    public func inPhase(_ phase: RegionPhase?) -> RegionBrief {
        var brief = self
        guard brief.status == .healthy, let phase else { return brief }
        switch phase {
        case .recovering(_, let until):
            brief.status = .recovering
            brief.reason = "healthy; traffic returns if it stays healthy until \(until.formatted(Date.ISO8601FormatStyle()))"
        case .awaitingFailback:
            brief.status = .recovering
            brief.reason = "recovery window complete; waiting to fail back (see regionctl traffic)"
        case .failingBack:
            brief.status = .recovering
            brief.reason = "failing back step by step (see regionctl traffic)"
        case .serving, .failingOver, .draining, .failedOver:
            break
        }
        return brief
    }
}
