import FoundationEssentials

// What the safety rails of issue 26 carry: maintenance windows, a lone observer that suspects itself.

/// A maintenance window (a drain or disable with an end, or scheduled) began, ended, or
/// could not begin.
public struct MaintenanceNote: EventDetail {
    public var action: Maintenance.Action
    /// The uid that asked for it, and why.
    public var uid: UInt32
    public var reason: String
    /// When it ends; absent: at `enable`.
    public var until: Date?
    /// maintenance_started: set when it moved traffic away (it counts as a failover).
    public var trigger: Trigger?
    public var strategy: FailoverStrategy?
    /// maintenance_skipped: why it could not begin.
    public var why: String?

    public init(_ window: Maintenance, why: String? = nil) {
        self.action = window.action
        self.uid = window.by
        self.reason = window.reason
        self.until = window.end
        self.why = why
    }

    public var fields: [(String, String)] {
        var out: [(String, String)] = [("action", self.action.rawValue), ("uid", "\(self.uid)"), ("reason", self.reason)]
        if let until { out.append(("until", FieldText.time(until))) }
        if let trigger { out.append(("trigger", trigger.rawValue)) }
        if let strategy { out.append(("strategy", strategy.rawValue)) }
        if let why { out.append(("why", why)) }
        return out
    }
}

/// A lone regiond suspects its own network: too many regions began failing at once.
public struct ObserverSuspicion: EventDetail {
    public var regions: [String]
    /// Enabled regions at the time.
    public var enabled: Int
    public var windowSeconds: Double

    public init(regions: [String], enabled: Int, windowSeconds: Double) {
        self.regions = regions
        self.enabled = enabled
        self.windowSeconds = windowSeconds
    }

    public var fields: [(String, String)] {
        [("regions", FieldText.list(self.regions)), ("enabled", "\(self.enabled)"), ("window_seconds", cFormat("%.1f", self.windowSeconds))]
    }
}

/// It no longer does: fewer regions fail, or an operator confirmed the failures.
public struct SuspicionCleared: EventDetail {
    public var reason: SuspicionEnd
    /// `confirmed`: who did.
    public var uid: UInt32?
    public var heldSeconds: Double

    public init(reason: SuspicionEnd, uid: UInt32?, heldSeconds: Double) {
        self.reason = reason
        self.uid = uid
        self.heldSeconds = heldSeconds
    }

    public var fields: [(String, String)] {
        [("reason", self.reason.rawValue)] + (self.uid.map { [("uid", "\($0)")] } ?? []) + [("held_seconds", cFormat("%.1f", self.heldSeconds))]
    }
}
