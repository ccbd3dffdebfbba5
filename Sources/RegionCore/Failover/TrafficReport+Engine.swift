import FoundationEssentials

extension TrafficReport {
    /// `regionctl traffic`: the committed plan and each region's phase, with the latest
    /// signals beside it.
    public init(engine: FailoverEngine, signals: [String: RegionSignal], recording: Bool, targets: [TrafficReport.Target]) {
        let state = engine.state
        let exclusions = engine.exclusions(signals: signals)
        let placements = engine.placements(signals: signals)
        let rows = engine.regions.map { region -> TrafficReport.Row in
            let rt = state.regions[region.id] ?? RegionRuntime()
            var row = TrafficReport.Row(
                region: region.id, weight: state.plan.weight(region.id), baseline: state.weightOverride?[region.id] ?? region.weight,
                share: rt.share, phase: rt.phase.name, admin: rt.admin.rawValue, priority: region.priority)
            row.cooldownUntil = rt.cooldownUntil
            row.status = signals[region.id]?.status
            row.note = rt.alert?.note
            row.strategy = engine.strategy(of: region.id).rawValue
            row.allowedTargets = region.allowedTargets
            row.residencyOverride = rt.residencyOverride
            row.lag = signals[region.id]?.lag
            row.excluded = exclusions[region.id]
            row.movedTo = placements[region.id]?.targets
            row.movedRung = placements[region.id].flatMap { $0.rung == .degraded ? .degraded : nil }
            row.maintenance = rt.maintenance
            switch rt.phase {
            case .failingOver(let trigger, let since, let next):
                row.trigger = trigger.rawValue
                row.since = since
                row.nextStep = next
            case .failedOver(let trigger, let since):
                row.trigger = trigger.rawValue
                row.since = since
            case .draining(let trigger, let since, let until):
                row.trigger = trigger.rawValue
                row.since = since
                row.drainUntil = until
            case .recovering(let since, let until):
                row.since = since
                row.recoveryEnds = until
            case .awaitingFailback(let since):
                row.since = since
            case .failingBack(let next):
                row.nextStep = next
            case .serving:
                break
            }
            return row
        }
        self.init(
            total: state.plan.total, strategy: engine.settings.strategy.rawValue, failback: engine.settings.failback.rawValue,
            regions: rows, pin: state.pin.map { TrafficReport.PinInfo(reason: $0.reason, uid: $0.by, since: $0.since, until: $0.until) },
            panic: state.panic, recording: recording)
        self.targets = targets
    }
}
