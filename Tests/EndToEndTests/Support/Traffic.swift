import Dispatch
import Foundation
import NIOCore
import NIOPosix
import RegionCore
import Synchronization
import RegionTestSupport
import Testing

/// One HTTP server per region on loopback: answers `/healthz` (the probes; `ok` or
/// `error` as the test sets it) and `/` (real traffic, counted). A request for `/hold`
/// is a long session: it gets no answer until `release()`.
final class RegionBackends: Sendable {
    let regions: [String]
    private let channels: Mutex<[String: any Channel]> = Mutex([:])
    private let held: Mutex<[(region: String, channel: any Channel)]> = Mutex([])
    /// The region of each `/hold` request as it arrives.
    let holds: AsyncStream<String>
    private let holdArrived: AsyncStream<String>.Continuation
    private let counts: Mutex<[String: Int]> = Mutex([:])
    private let failing: Mutex<Set<String>> = Mutex([])
    private let waiters: Mutex<[(id: UUID, total: Int, continuation: CheckedContinuation<Void, Never>)]> = Mutex([])

    init(regions: [String]) {
        self.regions = regions
        (self.holds, self.holdArrived) = AsyncStream.makeStream()
    }

    static func start(regions: [String]) async throws -> RegionBackends {
        let backends = RegionBackends(regions: regions)
        for region in regions {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Responder(backends: backends, region: region))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            backends.channels.withLock { $0[region] = channel }
        }
        return backends
    }

    func port(_ region: String) -> Int { self.channels.withLock { $0[region]?.localAddress?.port ?? 0 } }

    /// Makes a region's health endpoint answer 500 (true) or 200 (false); traffic is still served.
    func setFailing(_ region: String, _ failing: Bool) {
        self.failing.withLock { if failing { $0.insert(region) } else { $0.remove(region) } }
    }

    /// The regions whose `/hold` requests are open now.
    var holding: [String] { self.held.withLock { $0.map(\.region) } }

    /// Answers the held requests of `region` (every region if nil) with 200 and the region's name.
    func release(_ region: String? = nil) {
        let released = self.held.withLock { held in
            defer { held.removeAll { region == nil || $0.region == region } }
            return held.filter { region == nil || $0.region == region }
        }
        for (region, channel) in released {
            let text = "HTTP/1.1 200 OK\r\nContent-Length: \(region.utf8.count)\r\nConnection: close\r\n\r\n\(region)"
            channel.writeAndFlush(ByteBuffer(string: text)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    fileprivate func hold(_ region: String, _ channel: any Channel) {
        self.held.withLock { $0.append((region, channel)) }
        self.holdArrived.yield(region)
    }

    /// Requests each region served since the last reset.
    var served: [String: Int] { self.counts.withLock { $0 } }

    func reset() { self.counts.withLock { $0 = [:] } }

    /// Waits until the regions together have served `total` requests since the last reset
    /// (at most `limit`: a guard against a test that would hang, not a timing assertion).
    func waitForTotal(_ total: Int, limit: TimeAmount = .seconds(60)) async throws {
        try await within(limit, "\(total) requests through the load balancer (served: \(self.served))") {
            await self.arrival(of: total)
        }
    }

    private func arrival(of total: Int) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let done = self.counts.withLock { counts -> Bool in
                    if counts.values.reduce(0, +) >= total || Task.isCancelled { return true }
                    self.waiters.withLock { $0.append((id, total, continuation)) }
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let waiter = self.waiters.withLock { waiters -> CheckedContinuation<Void, Never>? in
                guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: index).continuation
            }
            waiter?.resume()
        }
    }

    /// The share of each region in what was served since the last reset (0...1).
    var shares: [String: Double] {
        let counts = self.served
        let total = max(1, counts.values.reduce(0, +))
        return Dictionary(uniqueKeysWithValues: self.regions.map { ($0, Double(counts[$0] ?? 0) / Double(total)) })
    }

    fileprivate func count(_ region: String) {
        let ready = self.counts.withLock { counts -> [CheckedContinuation<Void, Never>] in
            counts[region, default: 0] += 1
            let total = counts.values.reduce(0, +)
            return self.waiters.withLock { waiters in
                let due = waiters.filter { $0.total <= total }.map(\.continuation)
                waiters.removeAll { $0.total <= total }
                return due
            }
        }
        for continuation in ready { continuation.resume() }
    }

    fileprivate func isFailing(_ region: String) -> Bool { self.failing.withLock { $0.contains(region) } }

    func stop() async {
        for channel in self.channels.withLock({ Array($0.values) }) { try? await channel.close() }
    }

    final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let backends: RegionBackends
        let region: String
        var request = ""

        init(backends: RegionBackends, region: String) {
            self.backends = backends
            self.region = region
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = self.unwrapInboundIn(data)
            self.request += buffer.readString(length: buffer.readableBytes) ?? ""
            guard self.request.contains("\r\n\r\n") else { return }
            let health = self.request.hasPrefix("GET /healthz") || self.request.hasPrefix("HEAD /healthz")
            let hold = self.request.hasPrefix("GET /hold")
            self.request = ""
            if hold {
                self.backends.hold(self.region, context.channel)
                return
            }
            let text: String
            if health {
                text = self.backends.isFailing(self.region)
                    ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerror"
                    : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            } else {
                self.backends.count(self.region)
                text = "HTTP/1.1 200 OK\r\nContent-Length: \(self.region.utf8.count)\r\nConnection: close\r\n\r\n\(self.region)"
            }
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// Requests through a load balancer, without end, `clients` at a time, one connection
/// per request (each is balanced on its own). Counts answers and failures.
final class LoadGenerator: Sendable {
    let port: Int
    let answered = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    private let running = Atomic<Bool>(true)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(port: Int) {
        self.port = port
    }

    static func start(port: Int, clients: Int = 4) -> LoadGenerator {
        let load = LoadGenerator(port: port)
        let tasks = (0..<clients).map { _ in Task { await load.loop() } }
        load.tasks.withLock { $0 = tasks }
        return load
    }

    private func loop() async {
        while self.running.load(ordering: .relaxed), !Task.isCancelled {
            if await self.request() {
                self.answered.add(1, ordering: .relaxed)
            } else {
                self.failed.add(1, ordering: .relaxed)
            }
        }
    }

    /// One `GET /` on a new connection; true when an answer came back.
    private func request() async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .connect(host: "127.0.0.1", port: self.port)
                .flatMapThrowing { channel -> NIOAsyncChannel<ByteBuffer, ByteBuffer> in
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }.get()
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n"))
                var answer = ""
                for try await var chunk in inbound { answer += chunk.readString(length: chunk.readableBytes) ?? "" }
                return answer.hasPrefix("HTTP/1.1 200")
            }
        } catch {
            return false
        }
    }

    func stop() async {
        self.running.store(false, ordering: .relaxed)
        for task in self.tasks.withLock({ $0 }) { await task.value }
    }
}

/// A real HAProxy in front of the region backends: a frontend on `port`, backend `app`
/// with one server per region, the runtime API, and (optionally) a server-state file.
/// It can be reloaded the way `systemctl reload` does it (`-sf`) or killed and started again.
final class BalancedHAProxy: Sendable {
    let directory: String
    let port: Int
    let stateFile: String?
    private let pid = Mutex<pid_t>(0)

    var socket: String { "\(self.directory)/admin.sock" }
    var currentPID: pid_t { self.pid.withLock { $0 } }

    private init(directory: String, port: Int, stateFile: String?) {
        self.directory = directory
        self.port = port
        self.stateFile = stateFile
    }

    /// A loopback port nobody listens on now (bound to port 0, read, released). HAProxy
    /// sets SO_REUSEPORT on its listeners, so a fixed port shared with a stray process
    /// would silently split the traffic.
    static func freePort() throws -> Int {
        let socket = try #require(LoopbackSocket.bind(), "cannot find a free port: \(String(cString: strerror(errno)))")
        close(socket.fd)
        return socket.port
    }

    static func start(backends: RegionBackends, withStateFile: Bool) async throws -> BalancedHAProxy {
        let port = try Self.freePort()
        let directory = try makeTempDirectory()
        let stateFile = withStateFile ? "\(directory)/server-state" : nil
        var global = "global\n    stats socket \(directory)/admin.sock level admin expose-fd listeners\n"
        if let stateFile { global += "    server-state-file \(stateFile)\n" }
        var config = global + """
            defaults
                mode http
                timeout connect 1s
                timeout client 30s
                timeout server 30s
            """ + (withStateFile ? "\n    load-server-state-from-file global\n" : "\n")
        config += "frontend web\n    bind 127.0.0.1:\(port)\n    default_backend app\n"
        config += "backend app\n    balance roundrobin\n"
        for region in backends.regions { config += "    server \(region) 127.0.0.1:\(backends.port(region)) weight 100\n" }
        try config.write(toFile: "\(directory)/haproxy.cfg", atomically: true, encoding: .utf8)
        let haproxy = BalancedHAProxy(directory: directory, port: port, stateFile: stateFile)
        try await haproxy.launch(extra: [])
        return haproxy
    }

    private func launch(extra: [String]) async throws {
        let run = try await runProgram("/usr/sbin/haproxy", ["-D", "-f", "\(self.directory)/haproxy.cfg", "-p", "\(self.directory)/haproxy.pid"] + extra)
        try #require(run.status == 0, "haproxy: \(run.stderr)")
        let text = try String(contentsOfFile: "\(self.directory)/haproxy.pid", encoding: .utf8)
        let pid = try #require(pid_t(text.split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""))
        ProcessReaper.register(pid)
        self.pid.withLock { $0 = pid }
    }

    /// A graceful reload as `systemctl reload haproxy` does: a new process takes over the
    /// listeners (`-x` the admin socket, `-sf` the old pid), the old one finishes and exits.
    func reload() async throws {
        let old = self.currentPID
        try await self.launch(extra: ["-x", self.socket, "-sf", "\(old)"])
    }

    /// A hard restart: killed, then started from its config again.
    func restart() async throws {
        await self.kill()
        try await self.launch(extra: [])
    }

    /// Starts it again after `kill()`.
    func startAgain() async throws {
        try await self.launch(extra: [])
    }

    func kill() async {
        let pid = self.currentPID
        Glibc.kill(pid, SIGKILL)
        // A daemon, not our child: wait on a pidfd (off the cooperative pool) for it to go,
        // so its port and its socket are free again.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                _ = ProcessExit.wait(pid, milliseconds: 10_000)
                done.resume()
            }
        }
        try? FileManager.default.removeItem(atPath: self.socket)
    }

    func stop() async {
        await self.kill()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// What this HAProxy holds for `server` of `app` ("0 (initial 100)").
    func weight(_ server: String) async throws -> String {
        try await haproxyWeight(in: self.directory, server)
    }

    /// `show servers state` of this HAProxy.
    /// HAProxy's own count of current sessions (`show stat` scur) on a server of `app`.
    func currentSessions(_ server: String) async throws -> Int? {
        let connection = try await ControlConnection.open(self.socket)
        try await connection.send("show stat")
        var text = ""
        while let line = try await connection.readLine() { text += line + "\n" }
        await connection.close()
        return try HAProxyAnswer.stat(text).get().first { $0.backend == "app" && $0.server == server }?.currentSessions
    }

    func serversState() async throws -> [HAProxyAnswer.ServerState] {
        let connection = try await ControlConnection.open(self.socket)
        try await connection.send("show servers state app")
        var text = ""
        while let line = try await connection.readLine() { text += line + "\n" }
        await connection.close()
        return try HAProxyAnswer.serversState(text).get()
    }
}

/// Runs `body` with region backends, `balancers` HAProxies in front of them, steady load
/// through the first, and regiond configured by `config`; stops them all afterwards,
/// whether `body` succeeded or not.
func trafficScenario(
    regions: [String], balancers: Int, withStateFile: Bool, config: (RegionBackends, [BalancedHAProxy]) -> String,
    _ body: (RunningDaemon, RegionBackends, [BalancedHAProxy], LoadGenerator) async throws -> Void
) async throws {
    let backends = try await RegionBackends.start(regions: regions)
    var haproxies: [BalancedHAProxy] = []
    var load: LoadGenerator?
    var daemon: RunningDaemon?
    do {
        for _ in 0..<balancers { haproxies.append(try await BalancedHAProxy.start(backends: backends, withStateFile: withStateFile)) }
        load = LoadGenerator.start(port: haproxies[0].port)
        daemon = try await RunningDaemon.start(config: config(backends, haproxies))
        try await body(daemon!, backends, haproxies, load!)
    } catch {
        if let daemon { print("regiond stderr:\n\(daemon.stderr.suffix(3000))") }
        await daemon?.cleanUp()
        await load?.stop()
        for haproxy in haproxies { await haproxy.stop() }
        await backends.stop()
        throw error
    }
    await daemon?.cleanUp()
    await load?.stop()
    for haproxy in haproxies { await haproxy.stop() }
    await backends.stop()
}

/// One request through a load balancer for `/hold`: a session that stays open until the
/// backend releases it. Returns the whole answer.
func heldRequest(port: Int) async throws -> String {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port)
        .flatMapThrowing { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: $0) }.get()
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: "GET /hold HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n"))
        var answer = ""
        for try await var chunk in inbound { answer += chunk.readString(length: chunk.readableBytes) ?? "" }
        return answer
    }
}
