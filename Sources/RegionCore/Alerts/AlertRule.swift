import FoundationEssentials

/// One `[[alert]]`: a command run for the events an operator must hear about.
///
/// The event goes to the command as JSON on stdin and as `REGIOND_EVENT_*` environment
/// variables. A delivery is retried a bounded number of times, each attempt bounded
/// by `timeout` (then the process group is killed), and each kind is rate-limited so
/// a flapping region cannot page someone a hundred times.
public struct AlertRule: Sendable, Equatable {
    /// Names the rule in logs, events and metrics (`alert` label).
    public var name: String
    public var command: [String]
    /// The kinds it is run for.
    public var kinds: Set<EventKind>
    /// Only events at this syslog priority or more urgent (lower number).
    public var minPriority: SyslogPriority
    public var timeout: Duration
    /// Further attempts after a failed one.
    public var retries: Int
    /// At most one delivery per kind within this; zero: no limit.
    public var rateLimit: Duration

    /// What an operator must hear about when `kinds` is not given.
    public static let defaultKinds: Set<EventKind> = [
        .failoverStarted, .failoverBlocked, .failoverHalted, .noHealthyTarget, .actuatorFailed, .historyUnavailable,
        .capacityExhausted, .recoveryFailed, .decisionsHeld, .reloadFailed, .maintenanceSkipped, .observerSuspect,
    ]

    public init(
        name: String, command: [String], kinds: Set<EventKind> = AlertRule.defaultKinds, minPriority: SyslogPriority = .warning,
        timeout: Duration = .seconds(10), retries: Int = 2, rateLimit: Duration = .seconds(60)
    ) {
        self.name = name
        self.command = command
        self.kinds = kinds
        self.minPriority = minPriority
        self.timeout = timeout
        self.retries = retries
        self.rateLimit = rateLimit
    }

    /// How long to wait before attempt `attempt` (1 is the first retry): 1 s, 2 s, 4 s ... at most 30 s.
    public static func backoff(beforeRetry attempt: Int) -> Duration {
        .seconds(min(30, 1 << min(max(attempt - 1, 0), 5)))
    }
}

/// The syslog priorities, as `[[alert]] min_priority` names them.
public enum SyslogPriority: Int, Sendable, CaseIterable, Comparable {
    case emerg, alert, crit, err, warning, notice, info, debug

    public var name: String { "\(self)" }

    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Which events an alert rule delivers, and which it holds back: a pure rule, given
/// the time of the last delivery of each kind.
public struct AlertGate: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case deliver
        /// Not for this rule (kind, priority); not counted anywhere.
        case notForThisRule
        /// For this rule, but the kind was delivered less than `rate_limit` ago.
        case rateLimited(lastDelivered: Date)
    }

    public let rule: AlertRule
    private var lastDelivered: [EventKind: Date] = [:]

    public init(rule: AlertRule) {
        self.rule = rule
    }

    public mutating func judge(_ event: Event, now: Date) -> Verdict {
        // An alert that failed is an event too; alerting on it could loop.
        guard event.kind != .alertFailed, self.rule.kinds.contains(event.kind),
            event.kind.priority <= self.rule.minPriority.rawValue
        else { return .notForThisRule }
        if self.rule.rateLimit > .zero, let last = self.lastDelivered[event.kind], now.timeIntervalSince(last) < self.rule.rateLimit.seconds {
            return .rateLimited(lastDelivered: last)
        }
        self.lastDelivered[event.kind] = now
        return .deliver
    }
}

/// What became of one event an alert rule took (the `result` label of `regiond_alert_deliveries_total`).
public enum AlertDeliveryResult: String, Sendable, CaseIterable {
    case ok, failed
    case rateLimited = "rate_limited"
    /// Its queue was full, or regiond stopped before or while it ran.
    case dropped
}
