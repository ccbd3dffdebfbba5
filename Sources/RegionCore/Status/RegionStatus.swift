/// The health of a region as regiond reports it.
public enum RegionStatus: String, Sendable, Codable, CaseIterable, Comparable {
    /// Not enough samples yet to say.
    case unknown
    case healthy
    /// Serving, but outside a degraded threshold.
    case degraded
    /// Not fit to serve.
    case unhealthy
    /// Healthy again after losing traffic, but still inside its recovery window.
    case recovering

    /// Order of badness used by hysteresis: healthy < recovering < degraded < unhealthy.
    public var severity: Int {
        switch self {
        case .healthy: 0
        case .recovering: 1
        case .degraded: 2
        case .unhealthy: 3
        case .unknown: -1
        }
    }

    public static func < (lhs: RegionStatus, rhs: RegionStatus) -> Bool { lhs.severity < rhs.severity }
}
