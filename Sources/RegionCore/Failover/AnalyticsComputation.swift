import FoundationEssentials

/// Computes ``AnalyticsReport`` from recorded events (oldest first). Pure.
public enum Analytics {
    /// - Parameters:
    ///   - targets: the plan targets now configured; a move counts as applied once each of
    ///     them has applied a plan at or after it (`plan_applied`).
    ///   - region: also report this region's plan weight over the period.
    public static func compute(_ events: [Event], now: Date, targets: [String] = [], region wanted: String? = nil) -> AnalyticsReport {
        var report = AnalyticsReport(
            from: events.first?.time, to: events.last?.time, failovers: 0, failoversByStrategy: [:], failoversByTrigger: [:], blocked: 0,
            failbacks: 0, secondsInStatus: [:])
        var detection = DetectionClock()
        var failedAt: [String: Date] = [:]
        var statusSince: [String: (RegionStatus, Date)] = [:]
        var detect: [Double] = []
        var recover: [Double] = []
        // Moves not yet seen applied by every target: strategy and the targets still to apply one.
        var pending: [(strategy: String, waiting: Set<String>)] = []
        var points: [AnalyticsReport.RegionPlanHistory.Point] = []

        func moved(_ region: String, _ event: Event, strategy: String, trigger: String) {
            report.failovers += 1
            report.failoversByStrategy[strategy, default: 0] += 1
            report.failoversByTrigger[trigger, default: 0] += 1
            report.strategies[strategy, default: .init()].committed += 1
            if targets.isEmpty {
                report.strategies[strategy, default: .init()].applied += 1
            } else {
                pending.append((strategy, Set(targets)))
            }
            if failedAt[region] == nil { failedAt[region] = event.time }
        }

        for event in events {
            if let wanted, let plan = event.decision?.plan, let weight = plan.first(where: { $0.region == wanted }) {
                let point = AnalyticsReport.RegionPlanHistory.Point(time: event.time, weight: weight.weight, total: plan.reduce(0) { $0 + max(0, $1.weight) })
                if points.last.map({ $0.weight != point.weight || $0.total != point.total }) ?? true { points.append(point) }
            }
            if case .planApplied(let delivery) = event.payload {
                for index in pending.indices { pending[index].waiting.remove(delivery.actuator) }
                for done in pending where done.waiting.isEmpty { report.strategies[done.strategy, default: .init()].applied += 1 }
                pending.removeAll { $0.waiting.isEmpty }
            }
            if let seconds = detection.observe(event) { detect.append(seconds) }
            guard let region = event.region else { continue }
            if let failover = event.payload.failover {
                moved(region, event, strategy: failover.strategy?.rawValue ?? "operator", trigger: failover.trigger.rawValue)
            }
            if case .failoverStarted(let start) = event.payload {
                report.failoversByRung[(start.rung ?? .healthy).rawValue, default: 0] += 1
            }
            switch event.payload {
            case .statusChanged(let change):
                if let (status, since) = statusSince[region] {
                    report.secondsInStatus[status.rawValue, default: 0] += event.time.timeIntervalSince(since)
                }
                statusSince[region] = (change.status, event.time)
            case .failoverBlocked(let held):
                report.blocked += 1
                report.strategies[held.strategy.rawValue, default: .init()].blocked += 1
            case .recoveryFailed:
                report.recoveriesFailed += 1
            case .recoveryRestarted:
                report.recoveriesRestarted += 1
            case .failbackCompleted:
                report.failbacks += 1
                if let since = failedAt.removeValue(forKey: region) {
                    recover.append(event.time.timeIntervalSince(since))
                    report.secondsFailedOver[region, default: 0] += event.time.timeIntervalSince(since)
                }
            default:
                break
            }
        }
        for (_, (status, since)) in statusSince {
            report.secondsInStatus[status.rawValue, default: 0] += max(0, now.timeIntervalSince(since))
        }
        for (region, since) in failedAt {
            report.secondsFailedOver[region, default: 0] += max(0, now.timeIntervalSince(since))
        }
        let attempts = report.failovers + report.blocked
        report.successRate = attempts == 0 ? nil : Double(report.failovers) / Double(attempts)
        let recoveries = report.failbacks + report.recoveriesFailed + report.recoveriesRestarted
        report.recoverySuccessRate = recoveries == 0 ? nil : Double(report.failbacks) / Double(recoveries)
        report.timeToDetect = AnalyticsReport.Durations(detect)
        report.timeToRecover = AnalyticsReport.Durations(recover)
        report.timeToDetectP50 = report.timeToDetect?.p50
        report.timeToDetectMax = report.timeToDetect?.max
        report.timeToFailbackP50 = report.timeToRecover?.p50
        report.timeToFailbackMax = report.timeToRecover?.max
        if let wanted {
            report.plan = AnalyticsReport.RegionPlanHistory(region: wanted, points: points, averageShare: Self.averageShare(points, until: now))
        }
        return report
    }

    /// The time-weighted share of a step series, from its first point to `until`.
    static func averageShare(_ points: [AnalyticsReport.RegionPlanHistory.Point], until: Date) -> Double? {
        guard let first = points.first, until > first.time else { return nil }
        var weighted = 0.0
        for (index, point) in points.enumerated() {
            let end = index + 1 < points.count ? points[index + 1].time : until
            guard point.total > 0 else { continue }
            weighted += Double(point.weight) / Double(point.total) * max(0, end.timeIntervalSince(point.time))
        }
        return weighted / until.timeIntervalSince(first.time)
    }
}
