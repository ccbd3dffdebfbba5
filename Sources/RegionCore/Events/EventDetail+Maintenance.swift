import FoundationEssentials

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
