import Foundation
import NIOCore
import RegionCore
import Synchronization
import Testing

/// Three real regiond processes in cluster mode on a real 3-member etcd cluster, each
/// with its own path to region `eu` (a ``SwitchableTarget`` per observer, so one
/// observer's path can break alone) and a shared one to `us`; optionally each beside its
/// own HAProxy, the deployment docs/cluster.md describes.
final class ClusterFleet: Sendable {
    let etcd: EtcdCluster
    let prefix: String
    let eu: [SwitchableTarget]
    let us: SwitchableTarget
    let backends: RegionBackends?
    let haproxies: [BalancedHAProxy]
    let recoveryWindow: String
    /// Each instance has a `[hook]` that appends the plan it is given to `hook.log` in its directory.
    let withHook: Bool
    /// Where every instance keeps its state database (default: its own directory).
    let stateDirectory: String?
    private let running: Mutex<[RunningDaemon]>

    var daemons: [RunningDaemon] { self.running.withLock { $0 } }

    private init(etcd: EtcdCluster, eu: [SwitchableTarget], us: SwitchableTarget, backends: RegionBackends?, haproxies: [BalancedHAProxy], recoveryWindow: String, withHook: Bool, stateDirectory: String?) {
        self.withHook = withHook
        self.stateDirectory = stateDirectory
        self.etcd = etcd
        self.prefix = "/regiond-test-\(UUID().uuidString.prefix(8))"
        self.eu = eu
        self.us = us
        self.backends = backends
        self.haproxies = haproxies
        self.recoveryWindow = recoveryWindow
        self.running = Mutex([])
    }

    static func start(
        observers: Int = 3, withHAProxy: Bool = false, withHook: Bool = false, recoveryWindow: String = "2s", stateDirectory: String? = nil
    ) async throws -> ClusterFleet {
        let etcd = try await EtcdCluster.start()
        var eu: [SwitchableTarget] = []
        for _ in 0..<observers { eu.append(try await SwitchableTarget.start()) }
        let us = try await SwitchableTarget.start()
        var backends: RegionBackends?
        var haproxies: [BalancedHAProxy] = []
        if withHAProxy {
            let started = try await RegionBackends.start(regions: ["eu", "us"])
            for _ in 0..<observers { haproxies.append(try await BalancedHAProxy.start(backends: started, withStateFile: false)) }
            backends = started
        }
        let fleet = ClusterFleet(etcd: etcd, eu: eu, us: us, backends: backends, haproxies: haproxies, recoveryWindow: recoveryWindow, withHook: withHook, stateDirectory: stateDirectory)
        for index in 0..<observers {
            let daemon = try await RunningDaemon.start(config: fleet.config(index))
            fleet.running.withLock { $0.append(daemon) }
        }
        return fleet
    }

    /// Observer `obs<index+1>`'s configuration. lease_ttl 2 s keeps leader changes short;
    /// under a sanitizer everything is slower, so the lease is longer (`testSlowdown`).
    func config(_ index: Int) -> String {
        var text = """
            [daemon]
            control_socket = "@SOCKET@"
            state_directory = "\(self.stateDirectory ?? "@DIR@")"

            [probe]
            interval = "\(100 * testSlowdown)ms"
            timeout = "1s"
            jitter = 0

            [status]
            window = "\(testSlowdown)s"
            evaluation_interval = "\(100 * testSlowdown)ms"
            min_samples = 2
            rise = 2
            fall = 2

            [failover]
            cooldown = "0s"
            recovery_window = "\(self.recoveryWindow)"
            failback_ramp = "0s"

            [cluster]
            etcd = [\(self.etcd.clientURLs.map { "\"\($0)\"" }.joined(separator: ", "))]
            name = "obs\(index + 1)"
            prefix = "\(self.prefix)"
            lease_ttl = "\(2 * testSlowdown)s"
            renew_interval = "\(400 * testSlowdown)ms"
            request_timeout = "\(400 * testSlowdown)ms"

            """
        if self.withHook {
            text += "[hook]\ncommand = [\"/bin/sh\", \"-c\", \"echo \\\"$REGIOND_PLAN\\\" >> @DIR@/hook.log\"]\n\n"
        }
        if index < self.haproxies.count {
            text += "[[haproxy]]\nname = \"lb\"\nsocket = \"\(self.haproxies[index].socket)\"\nbackend = \"app\"\nreapply_interval = \"1h\"\n\n"
        }
        text += """
            [[region]]
            id = "eu"
            weight = 6000
              [[region.endpoint]]
              url = "http://127.0.0.1:\(self.eu[index].port)/healthz"

            [[region]]
            id = "us"
            weight = 4000
              [[region.endpoint]]
              url = "http://127.0.0.1:\(self.us.port)/healthz"

            """
        return text
    }

    /// Waits until every instance says (in `STATUS=`) that all observers are live and the
    /// regions are as `regions` says, and returns the index of the one that leads.
    @discardableResult
    func waitUntilSettled(regions: String = "2 regions: 2 healthy") async throws -> Int {
        let daemons = self.daemons
        for daemon in daemons {
            try await daemon.notify.wait(for: "\(daemons.count) of \(daemons.count) observers live | \(regions)", limit: .seconds(60))
        }
        return try await self.leader()
    }

    /// The index of the instance whose `STATUS=` says it leads (after `from` messages).
    func leader(among indexes: [Int]? = nil, from: [Int]? = nil) async throws -> Int {
        let daemons = self.daemons
        let candidates = indexes ?? Array(daemons.indices)
        return try await within(.seconds(60), "a leader") {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in candidates {
                    group.addTask {
                        _ = try await daemons[index].notify.wait(for: "cluster leader, ", from: from?[index] ?? 0, limit: .seconds(60))
                        return index
                    }
                }
                defer { group.cancelAll() }
                return try #require(try await group.next())
            }
        }
    }

    /// A watch connection on each instance.
    func watches() async throws -> [ControlConnection] {
        var watches: [ControlConnection] = []
        for daemon in self.daemons {
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            watches.append(watch)
        }
        return watches
    }

    /// Starts instance `index` again on its config and database (after a kill).
    func restart(_ index: Int) async throws {
        let again = try await self.daemons[index].restart()
        self.running.withLock { $0[index] = again }
    }

    func stop() async {
        for daemon in self.daemons { await daemon.cleanUp() }
        for target in self.eu { await target.stop() }
        await self.us.stop()
        for haproxy in self.haproxies { await haproxy.stop() }
        await self.backends?.stop()
        await self.etcd.stop()
    }

    var logs: String {
        self.daemons.enumerated().map { "--- obs\($0.offset + 1)\n\($0.element.stderr.suffix(6000))" }.joined(separator: "\n")
    }
}

/// The first event of `kind` matching `match` that `daemon` has recorded or will record:
/// its history first, then its watch, so an event from before the watch opened is found too.
@discardableResult
func awaitEvent(
    _ daemon: RunningDaemon, _ watch: ControlConnection, _ kind: EventKind, limit: TimeAmount = .seconds(30),
    where match: @escaping @Sendable (Event) -> Bool = { _ in true }
) async throws -> Event {
    if let found = try await history(daemon).first(where: { $0.kind == kind && match($0) }) { return found }
    return try await within(limit, "\(kind.rawValue)") {
        while true {
            let line = try await watch.readLine(containing: "\"kind\":\"\(kind.rawValue)\"", limit: limit)
            let event = try ControlProtocol.decoder().decode(WatchLine.self, from: Data(line.utf8)).event
            if match(event) { return event }
        }
    }
}
