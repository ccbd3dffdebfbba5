import FoundationEssentials

/// How often `probe REGION` may probe a region out of schedule. Anyone who may connect
/// may ask (it changes no decision by itself), so it is rate-limited per region: at most
/// once per `spacing`. Pure: it is given `now`.
public struct OnDemandProbeLimit: Sendable, Equatable {
    public static let defaultSpacing: Duration = .seconds(5)

    public var spacing: Duration
    public private(set) var last: Date?

    public init(spacing: Duration = Self.defaultSpacing) {
        self.spacing = spacing
    }

    /// Admits a probe at `now` (and remembers it), or returns when the next one is allowed.
    public mutating func admit(now: Date) -> Date? {
        if let last, now < last.addingTimeInterval(self.spacing.seconds), now >= last {
            return last.addingTimeInterval(self.spacing.seconds)
        }
        self.last = now
        return nil
    }
}
