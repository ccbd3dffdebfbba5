import Foundation
import Logging
import NIOCore
import NIOPosix
import RegionCore
import RegionProbes

/// Owns one ``RegionMonitor`` per region, applies reloads by touching only
/// what changed, and answers the read commands of the control socket.
public actor Supervisor<C: Clock> where C.Duration == Duration {
    public private(set) var config: Config
    public let configPath: String
    private var monitors: [String: RegionMonitor<C>] = [:]
    public private(set) var generation = 1
    public private(set) var lastReloadError: String?
    private var reloading = false
    let time: TimeBase<C>
    let prober: Prober
    let bus: EventBus
    let statistics: ProbeStatistics
    let notifier: SystemdNotifier
    let logger: Logger
    let controller: FailoverController<C>?
    /// Set while regiond is starved: monitors keep their statuses (``ScheduleWatchService``).
    let gate: ScheduleGate
    public let startedAt: Date
    /// Last summary sent as `STATUS=`, to send only changes.
    private var lastSummary = ""
    /// The loops monitors run on, and which region is on which.
    private let loops: [any EventLoop]
    private var placement: LoopPlacement
    /// Cluster mode: monitors' signals go to the cluster member (which publishes them and
    /// feeds the controller the fleet's), and reports carry the fleet view.
    private let cluster: (view: ClusterView, observe: @Sendable (String, RegionSignal) -> Void)?

    public init(
        config: Config, configPath: String, time: TimeBase<C>, prober: Prober, bus: EventBus, statistics: ProbeStatistics, notifier: SystemdNotifier,
        logger: Logger, controller: FailoverController<C>? = nil, gate: ScheduleGate = ScheduleGate(),
        loops: any EventLoopGroup = ProbeLoopGroup.forMonitors,
        cluster: (view: ClusterView, observe: @Sendable (String, RegionSignal) -> Void)? = nil
    ) {
        self.cluster = cluster
        self.controller = controller
        self.gate = gate
        self.config = config
        self.configPath = configPath
        self.time = time
        self.prober = prober
        self.bus = bus
        self.statistics = statistics
        self.notifier = notifier
        self.logger = logger
        self.startedAt = time.now
        self.loops = Array(loops.makeIterator())
        self.placement = LoopPlacement(loops: self.loops.count)
    }

    /// Creates and starts a monitor per region. Returns once every probe loop is scheduled.
    public func start() async {
        for region in self.config.regions { self.monitors[region.id] = self.makeMonitor(region) }
        // Concurrently: each start is a hop to the monitor's event loop, and loops that are
        // already probing would otherwise delay every later region's start.
        await withTaskGroup(of: Void.self) { group in
            for monitor in self.monitors.values { group.addTask { await monitor.start() } }
        }
        await self.bus.publish(
            Event(
                time: self.time.now, message: "regiond \(RegiondVersion.string) started with \(self.config.regions.count) regions from \(self.configPath)",
                .daemonStarted(DaemonStart(config: self.configPath, regions: self.config.regions.count))))
    }

    private func makeMonitor(_ region: RegionConfig) -> RegionMonitor<C> {
        let controller = self.controller
        let loop = self.loops[self.placement.place(region.id, rate: region.probesPerSecond)]
        let signals: @Sendable (String, RegionSignal) -> Void
        if let observe = self.cluster?.observe {
            signals = observe
        } else {
            signals = { id, signal in controller?.submit(region: id, signal: signal) }
        }
        return RegionMonitor(
            config: region, time: self.time, prober: self.prober, bus: self.bus, statistics: self.statistics,
            gate: self.gate, loop: loop, signals: signals)
    }

    /// Stops every monitor.
    public func stop() async {
        await withTaskGroup(of: Void.self) { group in
            for monitor in self.monitors.values { group.addTask { await monitor.stop() } }
        }
    }

    // MARK: reload

    /// Reads the configuration file again and applies it. A bad file changes nothing.
    public func reload() async -> Result<ReloadReport, ControlError> {
        guard !self.reloading else { return .failure(ControlError(.busy, "a reload is already in progress")) }
        self.reloading = true
        defer { self.reloading = false }
        self.notifier.reloading()
        let path = self.configPath
        let loaded: Result<Config, ConfigError>
        do {
            // Reading a file blocks: do it on NIO's thread pool, not the cooperative pool.
            loaded = try await NIOThreadPool.singleton.runIfActive {
                do throws(ConfigError) {
                    return .success(try ConfigLoader.load(path: path))
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            loaded = .failure(ConfigError(issues: [ConfigIssue(file: path, line: 0, key: "", message: "\(error)")]))
        }
        // The `reloading` flag keeps a second reload out while this one awaits the file.
        switch loaded {
        case .failure(let error):
            self.lastReloadError = error.description
            await self.bus.publish(
                Event(
                    time: self.time.now, message: "reload rejected, still running configuration generation \(self.generation): \(error.issues.first?.description ?? "")",
                    .reloadFailed(ReloadRejected(reason: error.description, config: path))))
            let summary = await self.summary()
            self.notifier.send("READY=1\nSTATUS=reload failed: \(error.issues.first?.description ?? "") | \(summary)")
            return .failure(ControlError(.reloadFailed, error.description))
        case .success(let new):
            for warning in ConfigAdvice.warnings(new, file: path) { self.logger.warning("configuration: \(warning)") }
            let report = await self.apply(new)
            self.lastReloadError = nil
            let summary = await self.summary()
            self.lastSummary = summary
            self.notifier.send("READY=1\nSTATUS=\(summary)")
            return .success(report)
        }
    }

    /// Applies a validated configuration: adds, removes and updates monitors as needed.
    func apply(_ new: Config) async -> ReloadReport {
        let old = self.config
        var added: [String] = []
        var removed: [String] = []
        var updated: [String] = []
        var unchanged = 0
        let now = self.time.now
        for region in old.regions where new.region(region.id) == nil {
            removed.append(region.id)
            if let monitor = self.monitors.removeValue(forKey: region.id) { await monitor.stop() }
            self.placement.remove(region.id)
            await self.bus.publish(Event(time: now, region: region.id, message: "region \(region.id) removed by reload", .regionRemoved))
        }
        for region in new.regions {
            if let monitor = self.monitors[region.id], let before = old.region(region.id) {
                if before.sameSettings(as: region) {
                    unchanged += 1
                } else {
                    updated.append(region.id)
                    _ = self.placement.place(region.id, rate: region.probesPerSecond)  // same loop, new rate
                    await monitor.update(region)
                    await self.bus.publish(
                        Event(time: now, region: region.id, message: "region \(region.id) updated by reload", .regionUpdated))
                }
            } else {
                added.append(region.id)
                let monitor = self.makeMonitor(region)
                self.monitors[region.id] = monitor
                await monitor.start()
                await self.bus.publish(Event(time: now, region: region.id, message: "region \(region.id) added by reload", .regionAdded))
            }
        }
        if new.daemon != old.daemon {
            self.logger.warning("[daemon] settings changed; they take effect at the next restart")
        }
        if new.cluster != old.cluster {
            self.logger.warning("[cluster] settings changed; they take effect at the next restart")
        }
        if new.metrics != old.metrics {
            self.logger.warning("[metrics] settings changed; they take effect at the next restart")
        }
        if new.alerts != old.alerts {
            self.logger.warning("[[alert]] settings changed; they take effect at the next restart")
        }
        self.config = new
        self.controller?.reconfigure(new)
        self.generation += 1
        await self.bus.publish(
            Event(
                time: now,
                message: "configuration generation \(self.generation) applied: \(added.count) added, \(removed.count) removed, \(updated.count) updated, \(unchanged) unchanged",
                .configReloaded(ConfigApplied(generation: self.generation, added: added, removed: removed, updated: updated))))
        return ReloadReport(generation: self.generation, added: added, removed: removed, updated: updated, unchanged: unchanged)
    }

    // MARK: reports

    public func briefs() async -> [RegionBrief] {
        let phases = self.controller?.phases() ?? [:]
        var result: [RegionBrief] = []
        for region in self.config.regions {
            if let monitor = self.monitors[region.id] { result.append(monitor.latestBrief.inPhase(phases[region.id])) }
        }
        return result
    }

    /// Every region's report as of its last evaluation, in config order: one hop, none to
    /// the monitors' loops (a metrics scrape must not wait on a busy prober).
    public func latestReports() async -> [RegionReport] {
        let phases = self.controller?.phases() ?? [:]
        return self.config.regions.compactMap { region in
            guard var report = self.monitors[region.id]?.latestReport else { return nil }
            report.brief = report.brief.inPhase(phases[region.id])
            return report
        }
    }

    /// `probe REGION`; nil when there is no such region.
    public func probe(region id: String) async -> Result<ProbeReport, ControlError>? {
        guard let monitor = self.monitors[id] else { return nil }
        return await monitor.probeNow()
    }

    public func report(region id: String) async -> RegionReport? {
        guard var report = await self.monitors[id]?.report() else { return nil }
        report.brief = report.brief.inPhase(self.controller?.phases()[id])
        report.fleet = self.cluster?.view.current?.fleet[id]
        return report
    }

    public func statusReport() async -> StatusReport {
        let briefs = await self.briefs()
        var counts: [String: Int] = [:]
        for brief in briefs { counts[brief.status.rawValue, default: 0] += 1 }
        var report = StatusReport(
            version: RegiondVersion.string, pid: getpid(), startedAt: self.startedAt, configFile: self.configPath,
            configGeneration: self.generation, lastReloadError: self.lastReloadError, counts: counts, regions: briefs,
            summary: Self.summary(briefs), probesRun: self.statistics.probesRun,
            probeLatenessP50Ms: self.statistics.latenessPercentile(0.50),
            probeLatenessP99Ms: self.statistics.latenessPercentile(0.99))
        let alarms = self.alarms
        report.failoverRecording = alarms.recording
        report.decisionsHeld = alarms.held?.reason
        report.observerSuspect = alarms.suspect
        report.probesNotCounted = self.statistics.probesNotCounted
        report.cluster = self.cluster?.view.current
        report.summary = self.statusPrefix + report.summary
        return report
    }

    /// Cluster mode: the quorum's view of each region (no hop).
    public nonisolated var fleet: [String: FleetRegion]? { self.cluster?.view.current?.fleet }

    /// What is wrong beyond region statuses (no hop to any actor).
    public nonisolated var alarms: Alarms {
        var alarms = self.controller?.alarms ?? Alarms()
        alarms.held = self.gate.held
        return alarms
    }

    public func summary() async -> String {
        self.statusPrefix + Self.summary(await self.briefs())
    }

    /// The alarms, then in cluster mode the role (`cluster leader, ...`, `ETCD UNREACHABLE, ...`).
    /// Cluster mode: the traffic report with this instance's own statuses beside the
    /// fleet's, and its role; unchanged when alone.
    public func withLocalView(_ report: TrafficReport) async -> TrafficReport {
        guard let cluster = self.cluster?.view.current else { return report }
        var report = report
        let local = Dictionary(await self.briefs().map { ($0.id, $0.status) }, uniquingKeysWith: { first, _ in first })
        for index in report.regions.indices { report.regions[index].localStatus = local[report.regions[index].region] }
        report.clusterRole = cluster.role.rawValue
        report.leader = cluster.leader
        return report
    }

    nonisolated var statusPrefix: String {
        self.alarms.prefix + (self.cluster?.view.current?.statusPrefix ?? "")
    }

    /// One line for `STATUS=`: "3 regions: 2 healthy, 1 degraded (eu-west)".
    static func summary(_ briefs: [RegionBrief]) -> String {
        let order: [RegionStatus] = [.healthy, .recovering, .degraded, .unhealthy, .unknown]
        let parts = order.compactMap { status -> String? in
            let ids = briefs.filter { $0.status == status }.map(\.id)
            guard !ids.isEmpty else { return nil }
            if status == .healthy || ids.count > 3 { return "\(ids.count) \(status.rawValue)" }
            return "\(ids.count) \(status.rawValue) (\(ids.joined(separator: ", ")))"
        }
        return "\(briefs.count) regions: \(parts.joined(separator: ", "))"
    }

    /// Sends `STATUS=` when the summary changed.
    public func refreshStatusText() async {
        let summary = await self.summary()
        guard summary != self.lastSummary else { return }
        self.lastSummary = summary
        self.notifier.status(summary)
    }

    // MARK: liveness

    /// True when every region's evaluation tick ran within three of its intervals
    /// (``EvaluationLiveness``). The watchdog is fed only while this holds, so a stalled
    /// scheduler gets the daemon restarted.
    public func isLive() async -> Bool {
        let now = self.time.clock.now
        for (id, monitor) in self.monitors {
            guard let region = self.config.region(id) else { continue }
            let (started, evaluated) = monitor.ticks
            guard let started else { continue }
            if EvaluationLiveness.isStalled(
                sinceLastEvaluation: evaluated.map { $0.duration(to: now) }, sinceStart: started.duration(to: now),
                interval: region.status.evaluationInterval)
            {
                return false
            }
        }
        return true
    }
}
