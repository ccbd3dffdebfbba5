import Foundation
import Logging
import RegionCore
import RegionTestSupport
import Subprocess
import SystemPackage
import Testing

@testable import RegionDaemon

/// A real HAProxy (daemon mode) with a runtime API socket and one backend `app`
/// whose servers stand for regions. `haproxy -D` returns once its sockets are bound.
final class RealHAProxy: Sendable {
    let directory: String
    let socket: String
    let pid: pid_t

    private init(directory: String, socket: String, pid: pid_t) {
        self.directory = directory
        self.socket = socket
        self.pid = pid
    }

    static func start(servers: [String]) async throws -> RealHAProxy {
        let binary = "/usr/sbin/haproxy"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "haproxy is not installed (make test-deps installs it)")
        let directory = "/tmp/rhx-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = """
            global
                stats socket \(directory)/admin.sock level admin
            defaults
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend app
            \(servers.map { "    server \($0) 127.0.0.1:9 weight 100" }.joined(separator: "\n"))
            """
        try (config + "\n").write(toFile: "\(directory)/haproxy.cfg", atomically: true, encoding: .utf8)  // HAProxy wants the last line ended
        let run = try await Subprocess.run(
            .path(FilePath(binary)), arguments: ["-D", "-f", "\(directory)/haproxy.cfg", "-p", "\(directory)/haproxy.pid"],
            output: .string(limit: 65536), error: .string(limit: 65536))
        try #require(run.terminationStatus == .exited(0), "haproxy did not start: \(run.standardError)")
        let pidText = try String(contentsOfFile: "\(directory)/haproxy.pid", encoding: .utf8)
        let pid = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        ProcessReaper.register(pid)
        return RealHAProxy(directory: directory, socket: "\(directory)/admin.sock", pid: pid)
    }

    /// HAProxy's current weight of `server` in `app`, e.g. "154 (initial 100)".
    func weight(_ server: String) async throws -> String {
        try await HAProxyRuntime(socket: self.socket, timeout: .seconds(2)).send("get weight app/\(server)").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() {
        kill(self.pid, SIGKILL)
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

@Suite("PlanActuator with a real HAProxy", .serialized)
struct HAProxyActuatorTests {
    static let servers = [HAProxyServer(region: "eu-west", server: "eu-west"), HAProxyServer(region: "us-east", server: "us-east")]

    static func actuator(_ haproxy: HAProxySettings, servers: [HAProxyServer] = servers) -> (PlanActuator, EventBus, String) {
        let directory = temporaryDirectory()
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bus = EventBus(logger: Logger(label: "test"))
        return (PlanActuator(stateDirectory: directory, bus: bus, logger: Logger(label: "test"), targets: PlanTargets(haproxy: [haproxy], servers: servers)), bus, directory)
    }

    @Test func committedPlansBecomeServerWeights() async throws {
        let haproxy = try await RealHAProxy.start(servers: ["eu-west", "us-east"])
        defer { haproxy.stop() }
        let (actuator, _, directory) = Self.actuator(HAProxySettings(socket: haproxy.socket, backend: "app"))
        defer { try? FileManager.default.removeItem(atPath: directory) }

        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 6000, "us-east": 4000], total: 10_000), order: ["eu-west", "us-east"])
        #expect(try await haproxy.weight("eu-west") == "154 (initial 100)")
        #expect(try await haproxy.weight("us-east") == "102 (initial 100)")

        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 0, "us-east": 10_000], total: 10_000), order: ["eu-west", "us-east"])
        #expect(try await haproxy.weight("eu-west") == "0 (initial 100)")
        #expect(try await haproxy.weight("us-east") == "256 (initial 100)")
        // The state file is written as well.
        let file = try String(contentsOfFile: "\(directory)/traffic.json", encoding: .utf8)
        #expect(file.contains(#""weight" : 10000"#))
    }

    @Test func aServerHAProxyDoesNotKnowIsAnActuatorFailure() async throws {
        let haproxy = try await RealHAProxy.start(servers: ["eu-west"])
        defer { haproxy.stop() }
        let (actuator, bus, directory) = Self.actuator(HAProxySettings(socket: haproxy.socket, backend: "app"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events = await bus.subscribe()

        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 6000, "us-east": 4000], total: 10_000), order: ["eu-west", "us-east"])
        var iterator = events.makeAsyncIterator()
        let event = try #require(await iterator.nextNotice())
        #expect(event.kind == .actuatorFailed)
        #expect(event.fields["actuator"] == "haproxy")
        #expect(event.fields["error"]?.contains("No such server.") == true, "\(event.fields)")
        // The servers HAProxy knows were still set.
        #expect(try await haproxy.weight("eu-west") == "154 (initial 100)")
    }

    /// An HAProxy that restarted or reloaded is back on its config's weights; the
    /// re-application puts the committed plan back.
    @Test func reapplyRestoresWeightsHAProxyForgot() async throws {
        let haproxy = try await RealHAProxy.start(servers: ["eu-west", "us-east"])
        defer { haproxy.stop() }
        let (actuator, _, directory) = Self.actuator(HAProxySettings(socket: haproxy.socket, backend: "app"))
        defer { try? FileManager.default.removeItem(atPath: directory) }

        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 0, "us-east": 10_000], total: 10_000), order: ["eu-west", "us-east"])
        _ = try await HAProxyRuntime(socket: haproxy.socket, timeout: .seconds(2)).send("set weight app/eu-west 100; set weight app/us-east 100")
        #expect(try await haproxy.weight("eu-west") == "100 (initial 100)")
        await actuator.reapply()
        await actuator.settle()
        #expect(try await haproxy.weight("eu-west") == "0 (initial 100)")
        #expect(try await haproxy.weight("us-east") == "256 (initial 100)")
    }

    /// A new plan that cannot be applied is always an event; repeated failures of the
    /// re-application are one event, until HAProxy has answered again.
    @Test func failedReapplicationsAreAnnouncedOncePerOutage() async throws {
        let haproxy = try await RealHAProxy.start(servers: ["eu-west", "us-east"])
        defer { haproxy.stop() }
        let missing = "/tmp/no-such-haproxy-\(UUID().uuidString.prefix(6)).sock"
        let (actuator, bus, directory) = Self.actuator(HAProxySettings(socket: missing, backend: "app"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events = await bus.subscribe()
        var iterator = events.makeAsyncIterator()
        let sentinel = Event(time: Date(), message: "sentinel", .planChanged)

        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 10_000, "us-east": 0], total: 10_000), order: ["eu-west", "us-east"])
        await actuator.reapply()
        await actuator.settle()
        await actuator.reapply()
        await actuator.settle()
        await bus.publish(sentinel)
        #expect(await iterator.nextNotice()?.kind == .actuatorFailed)
        #expect(await iterator.nextNotice()?.message == "sentinel", "re-applications while HAProxy stays away add no events")
        let failing = try #require(actuator.appliedTo.first { $0.name == "haproxy" })
        #expect(!failing.ok && failing.error?.contains("cannot connect") == true && failing.lastApplied == nil)
        let since = try #require(failing.failingSince)
        #expect(try #require(failing.lastAttempt) >= since, "the outage started at the first failure")
        #expect(actuator.appliedTo.map(\.name) == ["state_file", "haproxy"])

        // HAProxy is reachable (reconfigured): the plan arrives, and the outage is over.
        await actuator.configure(PlanTargets(haproxy: [HAProxySettings(socket: haproxy.socket, backend: "app")], servers: Self.servers))
        await actuator.reapply()
        await actuator.settle()
        #expect(try await haproxy.weight("eu-west") == "256 (initial 100)")
        let recovered = await iterator.nextNotice()
        #expect(recovered?.kind == .actuatorRecovered && recovered?.fields["actuator"] == "haproxy")
        await actuator.reapply()
        await actuator.settle()
        await bus.publish(sentinel)
        #expect(await iterator.nextNotice()?.message == "sentinel", "a working re-send is not news")
        let healthy = try #require(actuator.appliedTo.first { $0.name == "haproxy" })
        #expect(healthy.ok && healthy.error == nil && healthy.failingSince == nil && healthy.lastApplied != nil)
        // It goes away again: a new outage, a new event.
        await actuator.configure(PlanTargets(haproxy: [HAProxySettings(socket: missing, backend: "app")], servers: Self.servers))
        await actuator.reapply()
        await actuator.settle()
        await bus.publish(sentinel)
        #expect(await iterator.nextNotice()?.kind == .actuatorFailed)
        #expect(await iterator.nextNotice()?.message == "sentinel")
        let again = try #require(actuator.appliedTo.first { $0.name == "haproxy" })
        #expect(try #require(again.failingSince) > since, "a new outage has a new start")
        #expect(again.lastApplied == healthy.lastApplied)
        // Without [haproxy] it is no longer listed.
        await actuator.configure(PlanTargets())
        #expect(actuator.appliedTo.map(\.name) == ["state_file"])
    }

    /// With `zero_share = "drain"` a region with no share is also put in drain state, and
    /// back to ready when it has traffic again; with `state_file`, HAProxy's own state is
    /// written after every apply, in the format its `server-state-file` loads.
    @Test func drainStyleAndTheServerStateFile() async throws {
        let haproxy = try await RealHAProxy.start(servers: ["eu-west", "us-east"])
        defer { haproxy.stop() }
        let stateFile = "\(haproxy.directory)/server-state"
        let (actuator, _, directory) = Self.actuator(HAProxySettings(socket: haproxy.socket, backend: "app", stateFile: stateFile, zeroShare: .drain))
        defer { try? FileManager.default.removeItem(atPath: directory) }

        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 0, "us-east": 10_000], total: 10_000), order: ["eu-west", "us-east"])
        let drained = try HAProxyAnswer.serversState(try String(contentsOfFile: stateFile, encoding: .utf8)).get()
        #expect(drained.first { $0.server == "eu-west" }.map { $0.isDraining && $0.weight == 0 } == true, "\(drained)")
        #expect(drained.first { $0.server == "us-east" }.map { !$0.isDraining && $0.weight == 256 } == true, "\(drained)")

        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 5000, "us-east": 5000], total: 10_000), order: ["eu-west", "us-east"])
        let ready = try HAProxyAnswer.serversState(try String(contentsOfFile: stateFile, encoding: .utf8)).get()
        #expect(ready.allSatisfy { !$0.isDraining && $0.weight == 128 }, "\(ready)")
        #expect(actuator.appliedTo.first { $0.name == "haproxy" }?.ok == true)
    }

    @Test func anUnreachableHAProxyIsAnActuatorFailure() async throws {
        let (actuator, bus, directory) = Self.actuator(HAProxySettings(socket: "/tmp/no-such-haproxy-\(UUID().uuidString.prefix(6)).sock", backend: "app"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let events = await bus.subscribe()
        await actuator.applyAndWait(TrafficPlan(weights: ["eu-west": 10_000, "us-east": 0], total: 10_000), order: ["eu-west", "us-east"])
        var iterator = events.makeAsyncIterator()
        let event = try #require(await iterator.nextNotice())
        #expect(event.kind == .actuatorFailed)
        #expect(event.fields["error"]?.contains("cannot connect to HAProxy") == true, "\(event.fields)")
    }
}
