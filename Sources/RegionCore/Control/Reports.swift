import FoundationEssentials

/// Result of `status`: the daemon at a glance.
public struct StatusReport: Sendable, Codable, Equatable {
    public var version: String
    public var pid: Int32
    public var startedAt: Date
    public var configFile: String
    /// Successful loads of the configuration (1 at start, +1 per reload).
    public var configGeneration: Int
    public var lastReloadError: String?
    /// How many regions are in each status.
    public var counts: [String: Int]
    public var regions: [RegionBrief]
    /// The same one-line summary sent as systemd `STATUS=`.
    public var summary: String
    public var probesRun: UInt64
    /// False while the state database cannot be written (failover decisions are refused).
    public var failoverRecording: Bool = true
    /// Start lateness of recent probes (the last 8192), in milliseconds.
    public var probeLatenessP50Ms: Double?
    public var probeLatenessP99Ms: Double?
    /// Set while regiond is starved and holds statuses and automatic decisions: why.
    public var decisionsHeld: String?
    /// Alone: set while regiond suspects its own network and holds automatic decisions
    /// (too many regions began failing at once); `regionctl confirm` lifts it.
    public var observerSuspect: SelfSuspicion.Suspect?
    /// Probes whose result was left out of their window (regiond starved or short of descriptors).
    public var probesNotCounted: UInt64?
    /// Cluster mode only: role, leader, observers and the fleet view.
    public var cluster: ClusterReport?

    public init(version: String, pid: Int32, startedAt: Date, configFile: String, configGeneration: Int, lastReloadError: String?, counts: [String: Int], regions: [RegionBrief], summary: String, probesRun: UInt64, probeLatenessP50Ms: Double?, probeLatenessP99Ms: Double?) {
        self.version = version
        self.pid = pid
        self.startedAt = startedAt
        self.configFile = configFile
        self.configGeneration = configGeneration
        self.lastReloadError = lastReloadError
        self.counts = counts
        self.regions = regions
        self.summary = summary
        self.probesRun = probesRun
        self.probeLatenessP50Ms = probeLatenessP50Ms
        self.probeLatenessP99Ms = probeLatenessP99Ms
    }
}

/// One row of `regions`.
public struct RegionBrief: Sendable, Codable, Equatable {
    public var id: String
    public var status: RegionStatus
    public var since: Date?
    public var priority: Int
    public var weight: Int
    public var enabled: Bool
    public var endpoints: Int
    public var endpointsPassing: Int
    public var errorRate: Double
    public var latencyP95Ms: Double?
    public var capacity: Double?
    /// The first reason for the status.
    public var reason: String

    public init(id: String, status: RegionStatus, since: Date?, priority: Int, weight: Int, enabled: Bool, endpoints: Int, endpointsPassing: Int, errorRate: Double, latencyP95Ms: Double?, capacity: Double?, reason: String) {
        self.id = id
        self.status = status
        self.since = since
        self.priority = priority
        self.weight = weight
        self.enabled = enabled
        self.endpoints = endpoints
        self.endpointsPassing = endpointsPassing
        self.errorRate = errorRate
        self.latencyP95Ms = latencyP95Ms
        self.capacity = capacity
        self.reason = reason
    }
}

/// Result of `regions`.
public struct RegionList: Sendable, Codable, Equatable {
    /// This instance's own view of each region.
    public var regions: [RegionBrief]
    /// Cluster mode: the quorum's view of each region, which is what decides.
    public var fleet: [String: FleetRegion]?

    public init(regions: [RegionBrief], fleet: [String: FleetRegion]? = nil) {
        self.regions = regions
        self.fleet = fleet
    }
}

/// Result of `probe REGION`: each endpoint probed now.
public struct ProbeReport: Sendable, Codable, Equatable {
    public var region: String
    public var results: [ProbeResult]

    public init(region: String, results: [ProbeResult]) {
        self.region = region
        self.results = results
    }
}

/// Result of `best`: where new traffic should go now, and why.
public struct BestReport: Sendable, Codable, Equatable {
    /// The region new traffic should go to; nil when none is healthy with traffic.
    public var best: String?
    public var reason: String
    /// Every region, best first: its weight in the plan, status and why it is or is not a choice.
    public var candidates: [Candidate]

    public struct Candidate: Sendable, Codable, Equatable {
        public var region: String
        public var weight: Int
        public var share: Double
        public var status: RegionStatus?
        public var priority: Int
        /// Healthy and given traffic by the plan.
        public var eligible: Bool
        public var why: String
    }

    public init(best: String?, reason: String, candidates: [Candidate]) {
        self.best = best
        self.reason = reason
        self.candidates = candidates
    }
}

/// Result of `region ID`: everything regiond knows about one region.
public struct RegionReport: Sendable, Codable, Equatable {
    public var brief: RegionBrief
    public var metrics: RegionMetrics
    public var reasons: [String]
    /// Evaluations in a row pointing away from the current status, if any.
    public var pending: StatusEvaluator.Pending?
    public var thresholds: ThresholdsReport
    public var endpoints: [EndpointReport]
    /// `require` ("all", "any", N) when set; absent: the endpoints are pooled.
    public var require: String?
    /// Cluster mode only: the fleet's view of the region beside this instance's own.
    public var fleet: FleetRegion?

    public init(brief: RegionBrief, metrics: RegionMetrics, reasons: [String], pending: StatusEvaluator.Pending?, thresholds: ThresholdsReport, endpoints: [EndpointReport]) {
        self.brief = brief
        self.metrics = metrics
        self.reasons = reasons
        self.pending = pending
        self.thresholds = thresholds
        self.endpoints = endpoints
    }
}

/// The thresholds a region is judged by, in plain numbers.
public struct ThresholdsReport: Sendable, Codable, Equatable {
    public var windowSeconds: Double
    public var evaluationIntervalSeconds: Double
    public var minSamples: Int
    public var rise: Int
    public var fall: Int
    public var degradedErrorRate: Double
    public var unhealthyErrorRate: Double
    public var degradedCapacity: Double
    public var unhealthyCapacity: Double
    public var degradedLatencyMs: Double
    public var latencyPercentile: LatencyPercentile

    public init(_ t: StatusThresholds) {
        self.windowSeconds = t.window.seconds
        self.evaluationIntervalSeconds = t.evaluationInterval.seconds
        self.minSamples = t.minSamples
        self.rise = t.rise
        self.fall = t.fall
        self.degradedErrorRate = t.degradedErrorRate
        self.unhealthyErrorRate = t.unhealthyErrorRate
        self.degradedCapacity = t.degradedCapacity
        self.unhealthyCapacity = t.unhealthyCapacity
        self.degradedLatencyMs = t.degradedLatency.milliseconds
        self.latencyPercentile = t.latencyPercentile
    }
}

/// One endpoint in `region ID`.
public struct EndpointReport: Sendable, Codable, Equatable {
    public var name: String
    public var kind: String
    public var target: String
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var probes: UInt64
    public var consecutiveFailures: Int
    public var last: ProbeResult?
    /// How its probes ended since regiond started.
    public var tally: ProbeTally?
    /// `critical = true`: failing alone makes the region unhealthy.
    public var critical: Bool?

    public init(name: String, kind: String, target: String, intervalSeconds: Double, timeoutSeconds: Double, probes: UInt64, consecutiveFailures: Int, last: ProbeResult?) {
        self.name = name
        self.kind = kind
        self.target = target
        self.intervalSeconds = intervalSeconds
        self.timeoutSeconds = timeoutSeconds
        self.probes = probes
        self.consecutiveFailures = consecutiveFailures
        self.last = last
    }
}

/// Result of `version`.
public struct VersionReport: Sendable, Codable, Equatable {
    public var version: String
    public var protocolVersion: Int
    public var commands: [String]

    public init(version: String, protocolVersion: Int, commands: [String]) {
        self.version = version
        self.protocolVersion = protocolVersion
        self.commands = commands
    }
}

/// Result of `reload`.
public struct ReloadReport: Sendable, Codable, Equatable {
    public var generation: Int
    public var added: [String]
    public var removed: [String]
    public var updated: [String]
    public var unchanged: Int

    public init(generation: Int, added: [String], removed: [String], updated: [String], unchanged: Int) {
        self.generation = generation
        self.added = added
        self.removed = removed
        self.updated = updated
        self.unchanged = unchanged
    }
}

/// The first line of a `watch`: says the stream has begun.
public struct WatchStarted: Sendable, Codable, Equatable {
    public var watching: Bool

    public init() {
        self.watching = true
    }
}

/// The regiond version, shared by the daemon and regionctl.
public enum RegiondVersion {
    public static let string = "0.1.0"
}

/// Result of `traffic` and of every command that changes it: the plan and why.
public struct TrafficReport: Sendable, Codable, Equatable {
    public struct Row: Sendable, Codable, Equatable {
        public var region: String
        public var weight: Int
        public var baseline: Int
        /// Fraction of its baseline the region keeps.
        public var share: Double
        /// serving, failing_over, draining, failed_over, recovering, awaiting_failback, failing_back.
        public var phase: String
        /// enabled, disabled, drained.
        public var admin: String
        public var priority: Int
        public var status: RegionStatus?
        public var trigger: String?
        public var since: Date?
        public var nextStep: Date?
        public var recoveryEnds: Date?
        public var cooldownUntil: Date?
        /// Why traffic is held (cooldown, pin, manual, no target, lag), if it is.
        public var note: String?
        /// The strategy that moves this region's traffic (an operator's, the region's own, or `[failover]`'s).
        public var strategy: String?
        /// Where this region's traffic may go (`failover_to`, `failover_within`); absent: anywhere.
        public var allowedTargets: [String]?
        /// The operator's reason for sending this region's traffic outside its allowed targets.
        public var residencyOverride: String?
        /// Replication lag in seconds, as its endpoints last reported it.
        public var lag: Double?
        /// Why this region cannot take moved traffic now (not healthy, lag at or above max_lag, ...).
        public var excluded: String?
        /// Cluster mode: this instance's own status of the region (`status` is then the fleet's).
        public var localStatus: RegionStatus?
        /// The graceful strategy: the move completes when sessions have drained or at this time.
        public var drainUntil: Date?
        /// Where the traffic this region does not keep goes now (absent: it keeps all of it).
        public var movedTo: [String]?
        /// `degraded` when that is onto degraded regions, the best available (absent: healthy ones).
        public var movedRung: TargetRung?
        /// A drain or disable that ends by itself (`begun`), or one scheduled to begin.
        public var maintenance: Maintenance?

        public init(region: String, weight: Int, baseline: Int, share: Double, phase: String, admin: String, priority: Int) {
            self.region = region
            self.weight = weight
            self.baseline = baseline
            self.share = share
            self.phase = phase
            self.admin = admin
            self.priority = priority
        }
    }

    public struct PinInfo: Sendable, Codable, Equatable {
        public var reason: String
        public var uid: UInt32
        public var since: Date
        public var until: Date?

        public init(reason: String, uid: UInt32, since: Date, until: Date?) {
            self.reason = reason
            self.uid = uid
            self.since = since
            self.until = until
        }
    }

    /// Where the committed plan is applied, and whether the last attempt worked.
    public struct Target: Sendable, Codable, Equatable {
        /// `state_file`, `haproxy` (or `haproxy:NAME`) or `hook`.
        public var name: String
        public var ok: Bool
        /// The last attempt, and the last that worked.
        public var lastAttempt: Date?
        public var lastApplied: Date?
        /// While failing: since when, and the last error.
        public var failingSince: Date?
        public var error: String?
        /// The generation of the last plan this target took (plans are numbered as they are committed).
        public var appliedGeneration: Int?

        public init(name: String, ok: Bool) {
            self.name = name
            self.ok = ok
        }
    }

    public var total: Int
    public var strategy: String
    public var failback: String
    public var regions: [Row]
    /// Absent from daemons older than this field.
    public var targets: [Target]? = nil
    /// Cluster mode: this instance's role and the leader, as `status` has them.
    public var clusterRole: String?
    public var leader: String?
    public var pin: PinInfo?
    /// True while traffic that must move has no healthy region to go to (the plan is kept).
    public var panic: Bool
    /// False while the state database cannot be written.
    public var recording: Bool

    public init(total: Int, strategy: String, failback: String, regions: [Row], pin: PinInfo?, panic: Bool, recording: Bool) {
        self.total = total
        self.strategy = strategy
        self.failback = failback
        self.regions = regions
        self.pin = pin
        self.panic = panic
        self.recording = recording
    }
}

/// Result of `history`.
public struct HistoryReport: Sendable, Codable, Equatable {
    public var events: [Event]

    public init(events: [Event]) {
        self.events = events
    }
}
