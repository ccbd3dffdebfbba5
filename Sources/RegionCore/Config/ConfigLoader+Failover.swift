import FoundationEssentials

/// `[failover]`, a region's own `[region.failover]`, and where its traffic may go.
extension ConfigLoader {
    static func readFailover(_ r: inout TableReader, into f: inout FailoverSettings) {
        if let strategy = self.readStrategy(&r) { f.strategy = strategy }
        if let v = r.int("total", in: 1...1_000_000_000) { f.total = v }
        if let v = r.duration("cooldown", in: .zero...Duration.seconds(86_400)) { f.cooldown = v }
        if let v = r.duration("recovery_window", in: .zero...Duration.seconds(86_400)) { f.recoveryWindow = v }
        if let text = r.string("failback") {
            if let m = FailbackMode(rawValue: text) { f.failback = m } else {
                r.issue("failback", "'\(text)' is not one of automatic, manual")
            }
        }
        if let v = r.fraction("gradual_step", in: 0.01...1) { f.gradualStep = v }
        if let v = r.duration("gradual_interval", in: .milliseconds(100)...Duration.seconds(86_400)) { f.gradualInterval = v }
        if let v = r.bool("gradual_reverse") { f.gradualReverse = v }
        if let v = r.duration("drain_timeout", in: .seconds(1)...Duration.seconds(86_400)) { f.drainTimeout = v }
        if let ramp = self.readFailbackRamp(&r, default: f.failbackRamp) { f.failbackRamp = ramp }
        self.readTriggers(&r, into: &f.triggers)
        if let key = r.nonEmptyString("failover_within") { f.failoverWithin = key }
        if let v = r.bool("refuse_unrecorded") { f.refuseUnrecorded = v }
        if let v = r.duration("history_max_age", in: .seconds(60)...Duration.seconds(10 * 365 * 86_400)) { f.historyMaxAge = v }
        if let v = r.int("history_max_events", in: 100...100_000_000) { f.historyMaxEvents = v }
        if let v = r.fraction("suspect_fraction", in: 0.01...1) { f.suspectFraction = v }
    }

    /// `failback_ramp` (how long, `0s`: at once) and `failback_ramp_steps`; nil when neither is set.
    static func readFailbackRamp(_ r: inout TableReader, default base: FailbackRamp) -> FailbackRamp? {
        let duration = r.duration("failback_ramp", in: .zero...Duration.seconds(86_400))
        let steps = r.int("failback_ramp_steps", in: 2...100)
        guard duration != nil || steps != nil else { return nil }
        if duration == .zero { return .immediate }
        return FailbackRamp(steps: steps ?? (base.isImmediate ? FailbackRamp.standard.steps : base.steps), duration: duration ?? (base.isImmediate ? FailbackRamp.standard.duration : base.duration))
    }

    static func readStrategy(_ r: inout TableReader) -> FailoverStrategy? {
        guard let text = r.string("strategy") else { return nil }
        guard let strategy = FailoverStrategy(rawValue: text) else {
            r.issue("strategy", "'\(text)' is not one of \(FailoverStrategy.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return strategy
    }

    static func readTriggers(_ r: inout TableReader, into t: inout FailoverTriggers) {
        if let v = r.fraction("trigger_error_rate") { t.errorRate = v }
        if let v = r.fraction("trigger_capacity") { t.capacity = v }
        if let v = r.duration("trigger_latency", in: .milliseconds(1)...Duration.seconds(3600)) { t.latency = v }
        if let v = r.int("trigger_timeout_intervals", in: 1...1000) { t.timeoutIntervals = v }
    }

    /// `[region.failover]`: the region's own strategy, cooldown and triggers.
    static func readRegionFailover(_ r: inout TableReader, into policy: inout RegionFailoverPolicy) {
        policy.strategy = self.readStrategy(&r)
        policy.cooldown = r.duration("cooldown", in: .zero...Duration.seconds(86_400))
        policy.failbackRamp = self.readFailbackRamp(&r, default: .standard)
        self.readTriggers(&r, into: &policy.triggers)
    }

    static let triggerKeys = ["trigger_error_rate", "trigger_capacity", "trigger_latency"]

    /// A region is failed over only once it is degraded, so a trigger looser than the
    /// matching degraded threshold would silently act as that threshold. An explicit one
    /// (`explicit`: the keys someone wrote) is rejected, naming both; a default trigger
    /// under a raised threshold simply acts as the threshold.
    static func checkTriggers(_ r: inout TableReader, _ t: FailoverTriggers, against s: StatusThresholds, explicit: Set<String>, scope: String) {
        if explicit.contains("trigger_error_rate"), t.errorRate < s.degradedErrorRate {
            r.issue(
                "trigger_error_rate",
                "\(scope)trigger_error_rate \(percent(t.errorRate)) is below degraded_error_rate \(percent(s.degradedErrorRate)); a region fails over only once degraded, so it would act as \(percent(s.degradedErrorRate)). Use \(percent(s.degradedErrorRate)) or more"
            )
        }
        if explicit.contains("trigger_capacity"), t.capacity > s.degradedCapacity {
            r.issue(
                "trigger_capacity",
                "\(scope)trigger_capacity \(percent(t.capacity)) is above degraded_capacity \(percent(s.degradedCapacity)); a region fails over only once degraded, so it would act as \(percent(s.degradedCapacity)). Use \(percent(s.degradedCapacity)) or less"
            )
        }
        if explicit.contains("trigger_latency"), t.latency < s.degradedLatency {
            r.issue(
                "trigger_latency",
                "\(scope)trigger_latency \(formatDuration(t.latency)) is below degraded_latency \(formatDuration(s.degradedLatency)); a region fails over only once degraded, so it would act as \(formatDuration(s.degradedLatency)). Use \(formatDuration(s.degradedLatency)) or more"
            )
        }
    }

    /// `failover_to`, `labels`, `failover_within` and `max_lag` of one region.
    static func readResidency(_ r: inout TableReader, into policy: inout RegionFailoverPolicy) {
        if let targets = r.stringArray("failover_to") {
            if targets.isEmpty { r.issue("failover_to", "list at least one region, or leave failover_to out (any region)") }
            policy.failoverTo = targets
        }
        if var labels = r.table("labels") {
            for key in labels.table.keys.sorted() {
                if let value = labels.nonEmptyString(key) { policy.labels[key] = value }
            }
            r.absorb(labels)
        }
        if let key = r.nonEmptyString("failover_within") { policy.failoverWithin = key }
        policy.maxLag = r.duration("max_lag", in: .milliseconds(1)...Duration.seconds(7 * 86_400))
    }

    /// Cross-region checks of residency: names exist, labels are there.
    static func checkResidency(_ root: inout TableReader, _ regions: [RegionConfig]) {
        let ids = Set(regions.map(\.id))
        for region in regions {
            for target in region.failover.failoverTo ?? [] {
                if target == region.id {
                    root.issue("region", "region \(region.id): failover_to names the region itself", line: region.line)
                } else if !ids.contains(target) {
                    root.issue("region", "region \(region.id): failover_to names '\(target)', which is not a configured region", line: region.line)
                }
            }
            if let key = region.failover.failoverWithin, region.failover.labels[key] == nil {
                root.issue("region", "region \(region.id): failover_within = \"\(key)\" but it has no label \(key) (labels = { \(key) = \"...\" })", line: region.line)
            }
        }
    }
}
