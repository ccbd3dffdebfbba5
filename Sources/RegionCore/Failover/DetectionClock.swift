import FoundationEssentials

/// Time to detect (MTTD), one definition for `regionctl analytics` and the
/// `regiond_failover_detection_seconds` histogram: seconds from a region leaving
/// healthy (degraded or unhealthy) to the failover that follows, counted for the first
/// move of each failure only (a region already failed over is not detected again
/// until it fails back). Fed the events in order.
public struct DetectionClock: Sendable, Equatable {
    private var leftHealthy: [String: Date] = [:]
    private var failedOver: Set<String> = []

    public init() {}

    /// Takes one event; returns the time to detect when it is a failover that ends one.
    public mutating func observe(_ event: Event) -> Double? {
        guard let region = event.region else { return nil }
        switch event.payload {
        case .statusChanged(let change):
            if change.status == .degraded || change.status == .unhealthy {
                if self.leftHealthy[region] == nil { self.leftHealthy[region] = event.time }
            } else {
                self.leftHealthy[region] = nil
            }
        case .failoverStarted:
            let first = self.failedOver.insert(region).inserted
            if first, let since = self.leftHealthy.removeValue(forKey: region) { return event.time.timeIntervalSince(since) }
        case .operatorCommand(let action) where action.trigger != nil:
            self.failedOver.insert(region)
        case .failbackCompleted:
            self.failedOver.remove(region)
        default:
            break
        }
        return nil
    }
}
