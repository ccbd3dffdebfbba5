import FoundationEssentials

// What the events of regiond itself carry: start and reload, statuses, the history,
// plans reaching their targets, the overload gate and alerts.

public struct DaemonStart: EventDetail {
    public var config: String
    public var regions: Int

    public init(config: String, regions: Int) {
        self.config = config
        self.regions = regions
    }

    public var fields: [(String, String)] { [("config", self.config), ("regions", "\(self.regions)")] }
}

public struct ConfigApplied: EventDetail {
    public var generation: Int
    public var added: [String]
    public var removed: [String]
    public var updated: [String]

    public init(generation: Int, added: [String], removed: [String], updated: [String]) {
        self.generation = generation
        self.added = added
        self.removed = removed
        self.updated = updated
    }

    public var fields: [(String, String)] {
        [("generation", "\(self.generation)"), ("added", FieldText.list(self.added)), ("removed", FieldText.list(self.removed)), ("updated", FieldText.list(self.updated))]
    }
}

public struct ReloadRejected: EventDetail {
    public var reason: String
    public var config: String

    public init(reason: String, config: String) {
        self.reason = reason
        self.config = config
    }

    public var fields: [(String, String)] { [("reason", self.reason), ("config", self.config)] }
}

/// A region's status changed (after hysteresis), with the figures that moved it.
public struct StatusMove: EventDetail {
    public var status: RegionStatus
    public var previousStatus: RegionStatus
    public var reasons: [String]
    public var errorRate: Double
    public var samples: Int
    public var capacity: Double?
    public var latencyP95Ms: Double?

    public init(status: RegionStatus, previousStatus: RegionStatus, reasons: [String], errorRate: Double, samples: Int, capacity: Double?, latencyP95Ms: Double?) {
        self.status = status
        self.previousStatus = previousStatus
        self.reasons = reasons
        self.errorRate = errorRate
        self.samples = samples
        self.capacity = capacity
        self.latencyP95Ms = latencyP95Ms
    }

    public var fields: [(String, String)] {
        var out: [(String, String)] = [
            ("status", self.status.rawValue), ("previous_status", self.previousStatus.rawValue), ("reason", self.reasons.joined(separator: "; ")),
            ("error_rate", FieldText.fraction(self.errorRate)), ("samples", "\(self.samples)"),
        ]
        if let capacity { out.append(("capacity", FieldText.fraction(capacity))) }
        if let latencyP95Ms { out.append(("latency_p95_ms", FieldText.milliseconds(latencyP95Ms))) }
        return out
    }
}

/// The state database could not take a write.
public struct HistoryFailure: EventDetail {
    public var error: String
    /// The kinds of the decision that was refused because of it (empty: it was acted on anyway).
    public var refused: [EventKind]

    public init(error: String, refused: [EventKind] = []) {
        self.error = error
        self.refused = refused
    }

    public var fields: [(String, String)] {
        [("error", self.error)] + (self.refused.isEmpty ? [] : [("refused", FieldText.list(self.refused.map(\.rawValue)))])
    }
}

/// A committed plan on its way to one target (the state file, an HAProxy, the hook).
public struct PlanDelivery: EventDetail {
    /// The target's name: `state_file`, `haproxy:NAME`, `hook`.
    public var actuator: String
    /// Counts the plans handed to the targets since start.
    public var generation: Int
    /// The plan, as `eu=6000 us=4000`.
    public var plan: String
    /// actuator_failed: why it did not arrive.
    public var error: String?
    /// plan_applied: how long after its commit it arrived.
    public var delayMs: Double?
    /// plan_applied of a plan sent again: why (HAProxy restarted or answers again).
    public var reason: String?

    public init(actuator: String, generation: Int, plan: String, error: String? = nil, delayMs: Double? = nil, reason: String? = nil) {
        self.actuator = actuator
        self.generation = generation
        self.plan = plan
        self.error = error
        self.delayMs = delayMs
        self.reason = reason
    }

    public var fields: [(String, String)] {
        var out: [(String, String)] = [("actuator", self.actuator), ("generation", "\(self.generation)"), ("plan", self.plan)]
        if let error { out.append(("error", error)) }
        if let delayMs { out.append(("delay_ms", FieldText.milliseconds(delayMs))) }
        if let reason { out.append(("reason", reason)) }
        return out
    }
}

/// regiond is starved: statuses and automatic decisions are held.
public struct Overload: EventDetail {
    public var reason: String
    public var latenessP99Ms: Double?
    public var loopLagMs: Double?

    public init(reason: String, latenessP99Ms: Double?, loopLagMs: Double?) {
        self.reason = reason
        self.latenessP99Ms = latenessP99Ms
        self.loopLagMs = loopLagMs
    }

    public var fields: [(String, String)] {
        [
            ("reason", self.reason), ("lateness_p99_ms", self.latenessP99Ms.map(FieldText.milliseconds) ?? ""),
            ("loop_lag_ms", self.loopLagMs.map(FieldText.milliseconds) ?? ""),
        ]
    }
}

public struct OverloadEnded: EventDetail {
    public var heldSeconds: Double

    public init(heldSeconds: Double) { self.heldSeconds = heldSeconds }

    public var fields: [(String, String)] { [("held_seconds", wholeNumber(self.heldSeconds))] }
}

/// An `[[alert]]` command failed every attempt for one event.
public struct AlertUndelivered: EventDetail {
    public var alert: String
    public var alertKind: EventKind
    public var alertEventID: UInt64
    public var attempts: Int
    public var error: String

    public init(alert: String, alertKind: EventKind, alertEventID: UInt64, attempts: Int, error: String) {
        self.alert = alert
        self.alertKind = alertKind
        self.alertEventID = alertEventID
        self.attempts = attempts
        self.error = error
    }

    public var fields: [(String, String)] {
        [("alert", self.alert), ("alert_kind", self.alertKind.rawValue), ("alert_event_id", "\(self.alertEventID)"), ("attempts", "\(self.attempts)"), ("error", self.error)]
    }
}
