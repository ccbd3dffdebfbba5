import Foundation
import Logging
import NIOCore
import NIOPosix
import RegionCore
import RegionProbes
import ServiceLifecycle
import UnixSignals

/// Exit statuses of `regiond`, from sysexits.h so that systemd and scripts can tell them apart.
public enum ExitStatus {
    public static let ok: Int32 = 0
    /// A runtime failure after start.
    public static let failure: Int32 = 1
    /// Bad command line.
    public static let usage: Int32 = 64
    /// The control socket or another resource is unavailable (e.g. another regiond runs).
    public static let unavailable: Int32 = 69
    /// Cannot create the socket or state directory.
    public static let cantCreate: Int32 = 73
    /// The configuration is invalid.
    public static let config: Int32 = 78
}

/// Starts regiond with a configuration file and runs it until SIGTERM or SIGINT.
public enum Daemon {
    /// Runs the daemon; returns the process exit status.
    public static func run(configPath: String, logger: Logger) async -> Int32 {
        let notifier = SystemdNotifier()
        let config: Config
        do {
            config = try ConfigLoader.load(path: configPath)
        } catch {
            for issue in error.issues {
                logger.error("invalid configuration: \(issue)", metadata: ["REGIOND_CONFIG": "\(issue.file)", "REGIOND_KEY": "\(issue.key)"])
            }
            notifier.send("STATUS=invalid configuration: \(error.issues.first?.description ?? "")\nERRNO=22")
            return ExitStatus.config
        }
        for warning in ConfigAdvice.warnings(config, file: configPath) { logger.warning("configuration: \(warning)") }
        var adminGroupID: UInt32?
        if let name = config.daemon.adminGroup {
            guard let group = getgrnam(name) else {
                logger.error("invalid configuration: \(configPath): daemon.admin_group: group '\(name)' does not exist; create it or remove the key")
                return ExitStatus.config
            }
            adminGroupID = group.pointee.gr_gid
        }
        // Under regiond.socket systemd holds the socket (and answers connect(): that is not
        // another regiond). Otherwise refuse to steal the socket of one that still runs.
        let inherited = InheritedSocket.takeControlSocket()
        if inherited == nil, let problem = Self.socketInUse(config.daemon.controlSocket) {
            logger.error("\(problem)")
            return ExitStatus.unavailable
        }

        // The state database. Without it regiond still probes and reports, but does not
        // act on automatic decisions it cannot record (refuse_unrecorded).
        var store: StateStore?
        do {
            store = try StateStore(directory: config.daemon.stateDirectory)
        } catch {
            logger.critical("\(error); failover decisions will not be recorded")
        }
        // Event ids go on from the last run's: one sequence across restarts.
        var lastEventID: UInt64 = 0
        if let store {
            do {
                lastEventID = try await store.restore().lastEventID
            } catch {
                logger.error("cannot read the state database: \(error)")
            }
        }
        let bus = EventBus(logger: logger, history: store, lastEventID: lastEventID, retention: HistoryRetention(config.failover))
        // Metrics are kept only with a listener to serve them.
        let metrics = config.metrics.listen == nil ? nil : DaemonMetrics()
        if let metrics { await bus.addListener { metrics.record($0) } }
        let statistics = ProbeStatistics(metrics: metrics)
        let descriptors = DescriptorBudget.raiseSoftLimit()
        // The probe loops first: their epoll and eventfd descriptors must be counted as
        // open before the probes' budget is set from what is left, or the reserve for
        // everything else shrinks (under `ulimit -n 64`, libdispatch then found no
        // descriptor for a timer and trapped).
        let monitorLoops = ProbeLoopGroup.forMonitors
        let prober = Prober()
        logger.info(
            "file descriptors: limit \(descriptors), probes may hold \(prober.descriptors.limit) at once",
            metadata: ["REGIOND_NOFILE": "\(descriptors)"])
        let lag = LoopLag()
        let gate = ScheduleGate(lag: lag)
        // Monitors and their socket probes run on the probe loops, which measure their own
        // lag; TLS, host-name and command probes on NIO's loops or the pool, watched by a
        // heartbeat once the first such probe runs (an all-IP fleet never wakes them).
        lag.start(on: monitorLoops)
        if ProbeLoopGroup.shared != nil {
            prober.whenProbesLeaveTheLoops { lag.start(on: MultiThreadedEventLoopGroup.singleton) }
        }
        let time = TimeBase(clock: ContinuousClock())
        let actuator = PlanActuator(
            stateDirectory: config.daemon.stateDirectory, bus: bus, logger: logger, targets: config.planTargets)
        let controller = FailoverController(config: config, history: store, bus: bus, time: time, actuator: actuator, logger: logger, metrics: metrics)
        // Cluster mode: decisions are the elected leader's, on the fleet's view (docs/cluster.md).
        var member: ClusterMember<ContinuousClock>?
        let clusterView = ClusterView()
        if let settings = config.cluster {
            let etcd: EtcdClient
            do {
                etcd = try EtcdClient(settings: settings)
            } catch {
                logger.error("invalid configuration: \(configPath): cluster: cannot load the TLS files for etcd: \(error)")
                return ExitStatus.config
            }
            let joined = ClusterMember(
                settings: settings, etcd: etcd, controller: controller, bus: bus, time: time, view: clusterView, logger: logger,
                evaluating: { !gate.isHeld })
            await controller.join(joined, hookOnLeaderOnly: settings.hook == .leader)
            member = joined
            logger.notice(
                "cluster mode: observer \(settings.name), etcd \(settings.etcd.joined(separator: ",")), prefix \(settings.prefix), quorum \(settings.quorum)",
                metadata: ["REGIOND_OBSERVER": "\(settings.name)"])
        }
        let supervisor = Supervisor(
            config: config, configPath: configPath, time: time, prober: prober, bus: bus, statistics: statistics,
            notifier: notifier, logger: logger, controller: controller, gate: gate, loops: monitorLoops,
            cluster: member.map { member in (view: clusterView, observe: { member.observe(region: $0, signal: $1) }) })
        // Readiness order: valid config, restored failover state, every probe loop scheduled,
        // the metrics listener and the control socket bound, then READY=1.
        await controller.restore()
        await supervisor.start()

        // The control socket has an event loop of its own, so an operator can still ask
        // regiond what it is doing (and stop it) while probing keeps the other loops busy.
        let forward: (@Sendable (ControlRequest, UInt32) async -> Result<Int64, ControlError>)? =
            if let member { { request, uid in await member.forward(request, uid: uid) } } else { nil }
        let controlLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let controlClients = OpenConnections()
        let control = ControlServer(
            settings: config.daemon, service: ControlService(
                supervisor: supervisor, controller: controller, store: store, adminGroupID: adminGroupID, metrics: metrics,
                forward: forward),
            bus: bus,
            logger: logger, group: controlLoop, connections: controlClients, inherited: inherited,
            onListening: {
                let summary = await supervisor.summary()
                notifier.ready(status: summary)
                logger.notice("ready", metadata: ["REGIOND_SOCKET": "\(config.daemon.controlSocket)"])
            })
        // Bound before the services start, so READY=1 also means the metrics are served.
        var metricsListener: MetricsServer<ContinuousClock>.Listener?
        if let address = config.metrics.listen { metricsListener = await MetricsServer<ContinuousClock>.bind(address, group: controlLoop, logger: logger) }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: WatchdogService(supervisor: supervisor, notifier: notifier, logger: logger)),
            .init(service: StatusTextService(supervisor: supervisor, bus: bus)),
            .init(service: ScheduleWatchService(statistics: statistics, lag: lag, gate: gate, controller: controller, bus: bus, time: time)),
            .init(service: controller),
            .init(service: control),
        ]
        if let member { services.append(.init(service: member)) }
        services += [
            .init(service: ReloadSignalService(supervisor: supervisor, notifier: notifier, bus: bus, logger: logger)),
        ]
        if let address = config.metrics.listen, let listener = metricsListener, let metrics {
            let exporter = MetricsExporter(supervisor: supervisor, controller: controller, statistics: statistics, metrics: metrics, time: time, controlClients: controlClients)
            let page = StatusPage(supervisor: supervisor, controller: controller, bus: bus)
            services.append(.init(service: MetricsServer(listener: listener, address: address, exporter: exporter, page: page, logger: logger)))
        }
        #if DEBUG
        services.append(.init(service: FaultSignalService(logger: logger)))
        #endif
        if !config.alerts.isEmpty {
            services.append(.init(service: AlertService(rules: config.alerts, bus: bus, metrics: metrics, logger: logger, time: time)))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var status = ExitStatus.ok
        do {
            try await group.run()
        } catch {
            logger.error("regiond failed: \(error)")
            notifier.send("STATUS=failed: \(error)")
            status = error is ControlServerError || "\(error)".contains("bind") ? ExitStatus.cantCreate : ExitStatus.failure
        }
        await supervisor.stop()
        await prober.shutdown()
        try? await controlLoop.shutdownGracefully()
        await bus.finish()
        logger.info("stopped")
        return status
    }

    /// Refuses to steal the socket of a regiond that is still running.
    static func socketInUse(_ path: String) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(103)) + [0]
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return connected == 0 ? "another regiond is already listening on \(path); stop it first or set [daemon] control_socket" : nil
    }
}
