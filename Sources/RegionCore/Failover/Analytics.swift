import Foundation

/// Result of `analytics`: what the history says about failovers.
public struct AnalyticsReport: Sendable, Codable, Equatable {
    /// First and last event considered.
    public var from: Date?
    public var to: Date?
    /// Failovers that moved traffic (`failover_started`).
    public var failovers: Int
    public var failoversByStrategy: [String: Int]
    public var failoversByTrigger: [String: Int]
    /// Needed failovers that could not happen (`failover_blocked`: manual, pin, cooldown, no target).
    public var blocked: Int
    /// failovers / (failovers + blocked); nil when there were none.
    public var successRate: Double?
    public var failbacks: Int
    /// Seconds from a region leaving healthy to its failover, p50 and max.
    public var timeToDetectP50: Double?
    public var timeToDetectMax: Double?
    /// Seconds from failover to traffic back, p50 and max.
    public var timeToFailbackP50: Double?
    public var timeToFailbackMax: Double?
    /// Seconds spent in each status, summed over regions.
    public var secondsInStatus: [String: Double]
}

/// Computes ``AnalyticsReport`` from recorded events (oldest first). Pure.
public enum Analytics {
    public static func compute(_ events: [Event], now: Date) -> AnalyticsReport {
        var report = AnalyticsReport(
            from: events.first?.time, to: events.last?.time, failovers: 0, failoversByStrategy: [:], failoversByTrigger: [:], blocked: 0,
            failbacks: 0, secondsInStatus: [:])
        var leftHealthy: [String: Date] = [:]
        var failedAt: [String: Date] = [:]
        var statusSince: [String: (RegionStatus, Date)] = [:]
        var detect: [Double] = []
        var failback: [Double] = []
        for event in events {
            guard let region = event.region else { continue }
            switch event.kind {
            case .statusChanged:
                let to = event.fields["status"].flatMap(RegionStatus.init(rawValue:)) ?? .unknown
                if let (status, since) = statusSince[region] {
                    report.secondsInStatus[status.rawValue, default: 0] += event.time.timeIntervalSince(since)
                }
                statusSince[region] = (to, event.time)
                if to == .degraded || to == .unhealthy {
                    if leftHealthy[region] == nil { leftHealthy[region] = event.time }
                } else {
                    leftHealthy[region] = nil
                }
            case .failoverStarted:
                report.failovers += 1
                report.failoversByStrategy[event.fields["strategy"] ?? "unknown", default: 0] += 1
                report.failoversByTrigger[event.fields["trigger"] ?? "unknown", default: 0] += 1
                if let since = leftHealthy.removeValue(forKey: region) { detect.append(event.time.timeIntervalSince(since)) }
                if failedAt[region] == nil { failedAt[region] = event.time }
            case .operatorCommand where event.fields["trigger"] == "manual":
                report.failovers += 1
                report.failoversByStrategy[event.fields["strategy"] ?? "operator", default: 0] += 1
                report.failoversByTrigger["manual", default: 0] += 1
                if failedAt[region] == nil { failedAt[region] = event.time }
            case .failoverBlocked:
                report.blocked += 1
            case .failbackCompleted:
                report.failbacks += 1
                if let since = failedAt.removeValue(forKey: region) { failback.append(event.time.timeIntervalSince(since)) }
            default:
                break
            }
        }
        for (_, (status, since)) in statusSince {
            report.secondsInStatus[status.rawValue, default: 0] += max(0, now.timeIntervalSince(since))
        }
        let attempts = report.failovers + report.blocked
        report.successRate = attempts == 0 ? nil : Double(report.failovers) / Double(attempts)
        detect.sort()
        failback.sort()
        report.timeToDetectP50 = Percentile.nearestRank(detect, 0.5)
        report.timeToDetectMax = detect.last
        report.timeToFailbackP50 = Percentile.nearestRank(failback, 0.5)
        report.timeToFailbackMax = failback.last
        return report
    }
}
