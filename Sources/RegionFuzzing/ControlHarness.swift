import Foundation
import Logging
import NIOPosix
import RegionCore
import RegionDaemon
import RegionProbes
import Synchronization

/// A control request line through the real dispatch (`ControlService`) of a daemon that
/// runs in memory: a supervisor with three regions whose probes are not due for a day,
/// the failover controller, and the state store in memory. Every line is sent twice, as
/// an unprivileged user and as root, so that state-changing commands run too.
enum ControlHarness {
    final class Daemon: Sendable {
        let service: ControlService<ContinuousClock>
        let controller: FailoverController<ContinuousClock>
        let store: StateStore
        let runs = Atomic<Int>(0)

        init(service: ControlService<ContinuousClock>, controller: FailoverController<ContinuousClock>, store: StateStore) {
            self.service = service
            self.controller = controller
            self.store = store
        }
    }

    static let daemon: Daemon = blocking { await Self.makeDaemon() }

    static func makeDaemon() async -> Daemon {
        let directory = NSTemporaryDirectory() + "regiond-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let configPath = directory + "/regiond.toml"
        var text = "[daemon]\nstate_directory = \"\(directory)\"\ncontrol_socket = \"\(directory)/control.sock\"\n"
        text += "[probe]\ninterval = \"24h\"\ntimeout = \"1s\"\n[status]\nevaluation_interval = \"1h\"\n"
        for (id, tier) in [("eu-west", "primary"), ("us-east", "primary"), ("ap-south", "secondary")] {
            text += "[[region]]\nid = \"\(id)\"\ntier = \"\(tier)\"\nweight = 3000\n  [[region.endpoint]]\n  tcp = \"127.0.0.1:9\"\n"
        }
        try? text.write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try! ConfigLoader.parse(text, file: configPath)
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        let store = try! StateStore(inMemory: ())
        let bus = EventBus(logger: logger, history: store)
        let time = TimeBase(clock: ContinuousClock())
        let actuator = PlanActuator(stateDirectory: directory, bus: bus, logger: logger, targets: config.planTargets)
        let controller = FailoverController(config: config, history: store, bus: bus, time: time, actuator: actuator, logger: logger)
        let supervisor = Supervisor(
            config: config, configPath: configPath, time: time, prober: Prober(), bus: bus, statistics: ProbeStatistics(), notifier: SystemdNotifier(),
            logger: logger, controller: controller)
        await controller.restore()
        await supervisor.start()
        Task.detached { try? await controller.run() }
        return Daemon(service: ControlService(supervisor: supervisor, controller: controller, store: store, adminGroupID: nil), controller: controller, store: store)
    }

    static let nobody = PeerCredentials(pid: 1, uid: 65534, gid: 65534)
    static let root = PeerCredentials(pid: 1, uid: 0, gid: 0)

    static func run(_ input: [UInt8]) -> String? {
        let line = String(decoding: input, as: UTF8.self)
        let daemon = Self.daemon
        return blocking {
            // Commands as root add to the history; keep it as a long-running daemon would.
            if daemon.runs.wrappingAdd(1, ordering: .relaxed).newValue % 1000 == 0 {
                _ = try? await daemon.store.prune(maxAge: .seconds(3600), maxEvents: 1000, now: Date())
            }
            for peer in [Self.nobody, Self.root] {
                let reply: String
                switch await daemon.service.respond(to: line, peer: peer) {
                case .reply(let text), .watch(let text): reply = text
                }
                if reply.contains("\n") { return "a reply of more than one line: \(reply.prefix(200))" }
                guard let object = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any], object["ok"] is Bool else {
                    return "a reply that is not a JSON object with \"ok\": \(reply.prefix(200))"
                }
                let plan = daemon.controller.trafficReport()
                if plan.regions.map(\.weight).reduce(0, +) != plan.total { return "the plan no longer sums to \(plan.total): \(plan.regions.map(\.weight))" }
            }
            return nil
        }
    }
}
