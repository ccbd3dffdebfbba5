import Foundation
import NIOPosix
import RegionCore

/// `traffic.json` in the state directory, for load balancers, DNS updaters and scripts:
/// written to a temporary file and renamed over the old one, on NIO's thread pool.
struct StateFileTarget: PlanTarget {
    let name = "state_file"
    let path: String

    struct Document: Codable {
        var total: Int
        var weights: [Entry]
        var updated: Date
        var generation: Int

        struct Entry: Codable {
            var region: String
            var weight: Int
        }
    }

    func apply(_ offer: PlanOffer) async throws {
        let document = Document(
            total: offer.plan.total, weights: offer.order.map { .init(region: $0, weight: offer.plan.weight($0)) }, updated: Date(),
            generation: offer.generation)
        let encoder = ControlProtocol.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        try await writeAtomically(try encoder.encode(document), to: self.path)
    }
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename,
/// so a reader sees the old file or the new one, never half of one.
func writeAtomically(_ data: Data, to path: String) async throws {
    try await NIOThreadPool.singleton.runIfActive {
        let temporary = path + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            throw StateStore.Error(description: "rename \(temporary): \(String(cString: strerror(errno)))")
        }
    }
}

/// One HAProxy: `set weight` (and, with `zero_share = "drain"`, `set server ... state`)
/// for every region's server over the runtime API, then, with `state_file`, HAProxy's own
/// `show servers state` written where its `server-state-file` reads it at a reload.
struct HAProxyTarget: PlanTarget {
    let settings: HAProxySettings
    let servers: [HAProxyServer]

    var name: String { self.settings.target }
    var runtime: HAProxyRuntime { HAProxyRuntime(socket: self.settings.socket, timeout: self.settings.timeout) }

    func apply(_ offer: PlanOffer) async throws {
        let commands = HAProxyWeights.commands(
            for: offer.plan, backend: self.settings.backend, servers: self.settings.servers(for: self.servers), zeroShare: self.settings.zeroShare)
        try await self.runtime.apply(commands)
        if let path = self.settings.stateFile {
            // What HAProxy holds now, in the format it loads: weights and admin states.
            let state = try await self.runtime.send("show servers state")
            if case .failure(let error) = HAProxyAnswer.serversState(state) {
                throw HAProxyRuntime.Failure(description: "HAProxy's show servers state cannot be read back: \(error)")
            }
            do {
                try await writeAtomically(Data(state.utf8), to: path)
            } catch {
                throw HAProxyRuntime.Failure(description: "cannot write the server state file \(path): \(error)")
            }
        }
    }

    /// Sessions open now on `region`'s server of this load balancer (`show stat` scur).
    func sessions(on region: String) async throws -> Int {
        guard let server = self.settings.servers(for: self.servers).first(where: { $0.region == region })?.server else {
            throw HAProxyRuntime.Failure(description: "no server for region \(region)")
        }
        switch HAProxyAnswer.stat(try await self.runtime.send("show stat")) {
        case .success(let stats):
            guard let row = stats.first(where: { $0.backend == self.settings.backend && $0.server == server }) else {
                throw HAProxyRuntime.Failure(description: "show stat has no server \(self.settings.backend)/\(server)")
            }
            return row.currentSessions
        case .failure(let error):
            throw HAProxyRuntime.Failure(description: "\(error)")
        }
    }

    /// Who HAProxy is now (its pid and start), to notice a restart or a reload.
    func identity() async throws -> HAProxyIdentity {
        switch HAProxyAnswer.info(try await self.runtime.send("show info")) {
        case .success(let info): return HAProxyIdentity(pid: info.pid, started: info.startTime ?? -1)
        case .failure(let error): throw HAProxyRuntime.Failure(description: "\(error)")
        }
    }
}

struct HAProxyIdentity: Sendable, Equatable {
    var pid: Int
    var started: Int
}

/// The `[hook]` command, with the plan in its environment.
struct HookTarget: PlanTarget {
    let name = "hook"
    let hook: PlanHook
    let trafficFile: String

    func apply(_ offer: PlanOffer) async throws {
        var environment = PlanHook.environment(for: offer.plan, order: offer.order, trafficFile: self.trafficFile)
        environment["REGIOND_PLAN_GENERATION"] = "\(offer.generation)"
        try await PlanHookCommand.run(self.hook, environment: environment)
    }
}
