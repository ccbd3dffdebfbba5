import FoundationEssentials

/// What one kind of event carries, as a typed value. Sinks read the value: analytics,
/// metrics, alerts and the time-to-detect clock switch on ``EventPayload``, never on
/// text. `fields` is only how the value is written for people and the journal
/// (`REGIOND_<KEY>` fields, the `fields` object of `watch` and `history`).
public protocol EventDetail: Sendable, Equatable, Codable {
    /// The value as journal fields: lower_snake_case keys, values as text.
    var fields: [(String, String)] { get }
}

/// Writing numbers and times into fields, the same way everywhere.
enum FieldText {
    /// A fraction (share, error rate, capacity): four decimals.
    static func fraction(_ value: Double) -> String { cFormat("%.4f", value) }
    /// Milliseconds: one decimal.
    static func milliseconds(_ value: Double) -> String { cFormat("%.1f", value) }
    static func time(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }
    static func list(_ items: [String]) -> String { items.joined(separator: ",") }
}

/// A region's traffic moving away or back, by how much it keeps.
public struct ShareChange: EventDetail {
    /// The fraction of its baseline the region keeps after this event (0...1).
    public var share: Double

    public init(share: Double) { self.share = share }

    public var fields: [(String, String)] { [("share", FieldText.fraction(self.share))] }
}

/// A region starts losing its traffic: automatically (a trigger fired) or in failback.
public struct FailoverStart: EventDetail {
    public var trigger: Trigger
    public var strategy: FailoverStrategy
    public var share: Double
    /// Set when the traffic goes to degraded regions, the best available (nil: healthy ones).
    public var rung: TargetRung?

    public init(trigger: Trigger, strategy: FailoverStrategy, share: Double, rung: TargetRung? = nil) {
        self.trigger = trigger
        self.strategy = strategy
        self.share = share
        self.rung = rung == .healthy ? nil : rung
    }

    public var fields: [(String, String)] {
        [("trigger", self.trigger.rawValue), ("strategy", self.strategy.rawValue), ("share", FieldText.fraction(self.share))]
            + (self.rung.map { [("rung", $0.rawValue)] } ?? [])
    }
}

/// One more gradual step away.
public struct FailoverStepTaken: EventDetail {
    public var trigger: Trigger
    public var share: Double

    public init(trigger: Trigger, share: Double) {
        self.trigger = trigger
        self.share = share
    }

    public var fields: [(String, String)] { [("trigger", self.trigger.rawValue), ("share", FieldText.fraction(self.share))] }
}

/// How a graceful move ended.
public enum DrainEnd: String, Sendable, Codable, CaseIterable {
    /// The load balancers reported no session left.
    case sessions
    /// `drain_timeout` passed with sessions still open.
    case timeout
}

/// A region has lost all of its traffic.
public struct FailoverEnd: EventDetail {
    public var trigger: Trigger
    /// For the graceful strategy: how the drain ended.
    public var drained: DrainEnd?

    public init(trigger: Trigger, drained: DrainEnd? = nil) {
        self.trigger = trigger
        self.drained = drained
    }

    public var fields: [(String, String)] {
        [("trigger", self.trigger.rawValue), ("share", "0")] + (self.drained.map { [("drained", $0.rawValue)] } ?? [])
    }
}

/// A failing region keeps its traffic, and why.
public struct FailoverHeld: EventDetail {
    public var trigger: Trigger
    public var reason: String
    public var status: RegionStatus
    public var strategy: FailoverStrategy

    public init(trigger: Trigger, reason: String, status: RegionStatus, strategy: FailoverStrategy) {
        self.trigger = trigger
        self.reason = reason
        self.status = status
        self.strategy = strategy
    }

    public var fields: [(String, String)] {
        [("trigger", self.trigger.rawValue), ("reason", self.reason), ("status", self.status.rawValue), ("strategy", self.strategy.rawValue)]
    }
}

/// The recovery window started (or started again): traffic returns if the region stays
/// healthy until `until`.
public struct RecoveryWindow: EventDetail {
    public var until: Date
    /// The share the region keeps meanwhile.
    public var share: Double

    public init(until: Date, share: Double) {
        self.until = until
        self.share = share
    }

    public var fields: [(String, String)] { [("until", FieldText.time(self.until)), ("share", FieldText.fraction(self.share))] }
}

/// A region failed again before it got its traffic back.
public struct RecoveryFailure: EventDetail {
    public var trigger: Trigger

    public init(trigger: Trigger) { self.trigger = trigger }

    public var fields: [(String, String)] { [("trigger", self.trigger.rawValue)] }
}

/// Why something waits or ended: a failback held, a pin that expired.
public struct Because: EventDetail {
    public var reason: String

    public init(reason: String) { self.reason = reason }

    public var fields: [(String, String)] { [("reason", self.reason)] }
}

/// An operator's command, as it was committed.
public struct OperatorAction: EventDetail {
    /// The command's name (`drain`, `failover`, `set-weights`, ...).
    public var command: String
    public var uid: UInt32
    public var reason: String
    /// Set when the command moved traffic away from the event's region (it counts as a failover).
    public var trigger: Trigger?
    public var strategy: FailoverStrategy?
    /// `failover FROM TO`: the target the operator chose.
    public var target: String?
    /// `set-weights`: the new baselines, in config order.
    public var weights: [RegionWeight]?
    /// `drain --at`, `disable --at`: when the scheduled window begins.
    public var from: Date?
    /// `pin --ttl`, `drain --for`, `disable --for`: when it ends.
    public var until: Date?
    /// Sent outside the region's allowed targets, with this reason.
    public var residencyOverride: String?

    public init(command: String, uid: UInt32, reason: String) {
        self.command = command
        self.uid = uid
        self.reason = reason
    }

    public var fields: [(String, String)] {
        var out: [(String, String)] = [("command", self.command), ("uid", "\(self.uid)"), ("reason", self.reason)]
        if let trigger { out.append(("trigger", trigger.rawValue)) }
        if let strategy { out.append(("strategy", strategy.rawValue)) }
        if let target { out.append(("target", target)) }
        if let weights { out.append(("weights", weights.map(\.description).joined(separator: " "))) }
        if let from { out.append(("from", FieldText.time(from))) }
        if let until { out.append(("until", FieldText.time(until))) }
        if let residencyOverride { out.append(("residency_override", residencyOverride)) }
        return out
    }
}

/// A region's weight, in a list that keeps config order.
public struct RegionWeight: Sendable, Equatable, Codable {
    public var region: String
    public var weight: Int

    public init(region: String, weight: Int) {
        self.region = region
        self.weight = weight
    }

    /// `eu=6000`.
    public var description: String { "\(self.region)=\(self.weight)" }
}

/// Traffic must move and nothing may take it: the last plan stays.
public struct Stranded: EventDetail {
    /// The failing regions that keep their share (empty: a move under way has nowhere to go).
    public var regions: [String]

    public init(regions: [String]) { self.regions = regions }

    public var fields: [(String, String)] { self.regions.isEmpty ? [] : [("regions", FieldText.list(self.regions))] }
}
