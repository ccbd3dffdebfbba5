import Foundation
import RegionTestSupport
import NIOCore
import NIOPosix
import RegionCore
import Subprocess
import Synchronization
import SystemPackage

/// Where the built binaries are (`swift build` puts them in `.build/debug`).
enum Binaries {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var directory: String {
        ProcessInfo.processInfo.environment["REGIOND_BIN_DIR"] ?? root.appendingPathComponent(".build/debug").path
    }
    static var regiond: String { "\(directory)/regiond" }
    static var regionctl: String { "\(directory)/regionctl" }
    static var demoFleet: String { "\(directory)/demo-fleet" }
}

/// A short temporary directory (Unix socket paths must stay under 104 bytes).
func makeTempDirectory() throws -> String {
    let path = "/tmp/rdt-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion and collects its output.
///
/// Children are started with swift-subprocess, not Foundation's `Process`: it gives
/// the child an empty signal mask and default dispositions (threads of Swift's
/// concurrency pool block most signals, and a child that inherited a blocked SIGALRM
/// or SIGTERM would ignore `timeout` or a stop) while the parent's threads keep
/// theirs, and it waits on a pidfd. `Process` needed the spawning thread unmasked,
/// and a SIGCHLD landing on that thread in that moment was lost: `waitUntilExit`
/// then never returned (seen with `haproxy -D`, whose parent exits at once).
func runProgram(_ path: String, _ arguments: [String], environment: [String: String] = [:], asUser: Bool = false) async throws -> ProcessResult {
    // As "nobody", for permission tests (setpriv is part of util-linux).
    let (program, all) = asUser ? ("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", path] + arguments) : (path, arguments)
    var overrides: [Environment.Key: String?] = [:]
    for (key, value) in environment { overrides[Environment.Key(stringLiteral: key)] = value }
    // Killed with the test process if it dies first (a chaos run, the container test).
    let result = try await Subprocess.run(
        .path(FilePath(program)), arguments: Arguments(all), environment: .inherit.updating(overrides), input: .none,
        output: .string(limit: 1 << 22), error: .string(limit: 1 << 22)
    ) { execution in ProcessReaper.register(execution.processIdentifier.value) }
    let status: Int32
    switch result.terminationStatus {
    case .exited(let code): status = code
    case .signaled(let signal): status = 128 + signal
    }
    return ProcessResult(status: status, stdout: result.standardOutput, stderr: result.standardError)
}

/// A `regiond` process started from the built binary with its own config, socket and notify socket.
final class RunningDaemon: Sendable {
    let directory: String
    let configPath: String
    let socketPath: String
    let notify: NotifyListener
    let pid: pid_t
    private let exit: Exit

    /// How regiond ended, once it has; waiters are resumed when it does.
    final class Exit: Sendable {
        let status = Mutex<TerminationStatus?>(nil)
        let waiters = Mutex<[CheckedContinuation<TerminationStatus?, Never>]>([])

        var hasEnded: Bool { self.status.withLock { $0 != nil } }

        func finished(_ status: TerminationStatus) {
            self.status.withLock { $0 = status }
            let all = self.waiters.withLock { w in
                defer { w.removeAll() }
                return w
            }
            for waiter in all { waiter.resume(returning: status) }
        }

        /// How regiond ended; nil if the waiting task is cancelled first.
        func wait() async -> TerminationStatus? {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let done: TerminationStatus?? = self.status.withLock { status in
                        if let status { return .some(status) }
                        if Task.isCancelled { return .some(nil) }
                        self.waiters.withLock { $0.append(continuation) }
                        return nil
                    }
                    if let done { continuation.resume(returning: done) }
                }
            } onCancel: {
                let all = self.waiters.withLock { w in
                    defer { w.removeAll() }
                    return w
                }
                for waiter in all { waiter.resume(returning: nil) }
            }
        }
    }

    /// Writes `config` (with `@SOCKET@` replaced by the socket path) and starts regiond on it.
    /// `wrapper` runs first and execs regiond (e.g. `prlimit --nofile=64:64`), so the pid stays regiond's.
    static func start(config: String, environment: [String: String] = [:], wrapper: [String] = []) async throws -> RunningDaemon {
        let directory = try makeTempDirectory()
        let configPath = "\(directory)/regiond.toml"
        // Daemons of parallel tests must not fight over the default metrics port: off unless
        // the test configures it (a top-level table may come last in TOML).
        let text = config.contains("[metrics]") ? config : config + "\n\n[metrics]\nlisten = \"\"\n"
        try text.replacingOccurrences(of: "@SOCKET@", with: "\(directory)/control.sock").replacingOccurrences(of: "@DIR@", with: directory)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        return try await self.launch(directory: directory, environment: environment, wrapper: wrapper)
    }

    /// Starts regiond again on the same directory (config, state database), as after a crash.
    func restart(environment: [String: String] = [:]) async throws -> RunningDaemon {
        await self.notify.close()
        return try await Self.launch(directory: self.directory, environment: environment)
    }

    private static func launch(directory: String, environment: [String: String], wrapper: [String] = []) async throws -> RunningDaemon {
        let socketPath = "\(directory)/control.sock"
        let configPath = "\(directory)/regiond.toml"
        let notify = try await NotifyListener.start(path: "\(directory)/notify-\(UUID().uuidString.prefix(4)).sock")
        var overrides: [Environment.Key: String?] = ["NOTIFY_SOCKET": notify.path, "JOURNAL_STREAM": nil]
        for (key, value) in environment { overrides[Environment.Key(stringLiteral: key)] = value }
        let log = try FileDescriptor.open(
            "\(directory)/stderr.log", .writeOnly, options: [.create, .append], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        let exit = Exit()
        let (started, starting) = AsyncStream.makeStream(of: Result<pid_t, any Error>.self)
        // The run lasts as long as regiond; its task records how regiond ended.
        Task.detached {
            do {
                let command = wrapper + [Binaries.regiond, "--config", configPath, "--log-level", "debug"]
                let result = try await Subprocess.run(
                    .path(FilePath(command[0])), arguments: Arguments(Array(command.dropFirst())),
                    environment: .inherit.updating(overrides), input: .none, output: .discarded,
                    error: .fileDescriptor(log, closeAfterSpawningProcess: true)
                ) { execution in
                    ProcessReaper.register(execution.processIdentifier.value)
                    starting.yield(.success(execution.processIdentifier.value))
                }
                exit.finished(result.terminationStatus)
            } catch {
                starting.yield(.failure(error))
                exit.finished(.exited(-1))
            }
            starting.finish()
        }
        var iterator = started.makeAsyncIterator()
        guard let first = await iterator.next() else { throw DeadlineExceeded(what: "regiond to start") }
        let pid = try first.get()
        return RunningDaemon(directory: directory, configPath: configPath, socketPath: socketPath, notify: notify, pid: pid, exit: exit)
    }

    private init(directory: String, configPath: String, socketPath: String, notify: NotifyListener, pid: pid_t, exit: Exit) {
        self.directory = directory
        self.configPath = configPath
        self.socketPath = socketPath
        self.notify = notify
        self.pid = pid
        self.exit = exit
    }

    var stderr: String { (try? String(contentsOfFile: "\(self.directory)/stderr.log", encoding: .utf8)) ?? "" }

    /// Resident memory now, in bytes (VmRSS).
    var residentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(self.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    func signal(_ signal: Int32) {
        kill(self.pid, signal)
    }

    /// Waits for the process to end and returns how it ended.
    func waitForExit(limit: TimeAmount = .seconds(30)) async throws -> TerminationStatus {
        let exit = self.exit
        let status = try await within(limit, "regiond to exit") { await exit.wait() }
        guard let status else { throw CancellationError() }
        return status
    }

    func regionctl(_ arguments: [String], asUser: Bool = false) async throws -> ProcessResult {
        try await runProgram(Binaries.regionctl, arguments, environment: ["REGIOND_SOCKET": self.socketPath], asUser: asUser)
    }

    /// Sends one request line on a fresh connection and returns the reply line.
    func request(_ line: String) async throws -> String {
        let connection = try await ControlConnection.open(self.socketPath)
        try await connection.send(line)
        let reply = try await connection.readLine()
        await connection.close()
        return reply ?? ""
    }

    /// Decodes the result of a request, failing the test on an error reply.
    func call<T: Codable & Sendable>(_ cmd: String, region: String? = nil, as type: T.Type) async throws -> T {
        let request = ControlRequest(cmd: cmd, region: region)
        let line = String(decoding: try ControlProtocol.encoder().encode(request), as: UTF8.self)
        let reply = try ControlProtocol.decoder().decode(ControlReply<T>.self, from: Data(try await self.request(line).utf8))
        guard let result = reply.result else { throw DeadlineExceeded(what: "a result, got \(String(describing: reply.error))") }
        return result
    }

    /// Stops regiond (if still running) and removes its files.
    func cleanUp() async {
        if self.exit.hasEnded == false {
            self.signal(SIGKILL)
            _ = try? await self.waitForExit()
        }
        await self.notify.close()
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

/// A raw control-socket connection, for tests that speak the protocol by hand.
final class ControlConnection: Sendable {
    let channel: any Channel
    private let lines: LineInbox
    private let cursor = Mutex(0)

    private init(channel: any Channel, lines: LineInbox) {
        self.channel = channel
        self.lines = lines
    }

    static func open(_ path: String, maxLine: Int = 1 << 20) async throws -> ControlConnection {
        let lines = LineInbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineDecoder(), maximumBufferSize: maxLine))
                    try channel.pipeline.syncOperations.addHandler(LineCollector(lines: lines))
                }
            }
            .connect(unixDomainSocketPath: path)
            .get()
        return ControlConnection(channel: channel, lines: lines)
    }

    func send(_ text: String, newline: Bool = true) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(string: newline ? text + "\n" : text))
    }

    /// The next line, or nil when the daemon closed the connection.
    func readLine(limit: TimeAmount = .seconds(30)) async throws -> String? {
        let index = self.cursor.withLock { $0 }
        let lines = self.lines
        let line = try await within(limit, "a line from regiond") { await lines.line(at: index) }
        if line != nil { self.cursor.withLock { $0 += 1 } }
        return line
    }

    /// Reads lines until one contains `text`.
    func readLine(containing text: String, limit: TimeAmount = .seconds(30)) async throws -> String {
        try await self.readLine(containingAll: [text], limit: limit)
    }

    /// Reads lines until one contains every one of `texts`.
    func readLine(containingAll texts: [String], limit: TimeAmount = .seconds(30)) async throws -> String {
        while let line = try await self.readLine(limit: limit) {
            if texts.allSatisfy({ line.contains($0) }) { return line }
        }
        throw DeadlineExceeded(what: "\(texts): connection closed")
    }

    /// Whether the daemon has closed the connection (waits for it).
    func waitForClose(limit: TimeAmount = .seconds(30)) async throws {
        let channel = self.channel
        // closeFuture ignores cancellation: close the channel when the deadline cancels the wait.
        try await within(limit, "regiond to close the connection") {
            try await withTaskCancellationHandler {
                try await channel.closeFuture.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        }
    }

    func close() async {
        try? await self.channel.close()
    }

    final class LineCollector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let lines: LineInbox

        init(lines: LineInbox) {
            self.lines = lines
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.lines.add(String(buffer: self.unwrapInboundIn(data)))
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.lines.close()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

/// Lines in arrival order; readers wait for line N or for the end.
final class LineInbox: Sendable {
    struct State {
        var lines: [String] = []
        var closed = false
        var waiters: [(id: UUID, index: Int, continuation: CheckedContinuation<String?, Never>)] = []
    }
    let state = Mutex(State())

    func add(_ line: String) {
        let ready = self.state.withLock { state -> [CheckedContinuation<String?, Never>] in
            state.lines.append(line)
            let index = state.lines.count - 1
            let ready = state.waiters.filter { $0.index == index }.map(\.continuation)
            state.waiters.removeAll { $0.index == index }
            return ready
        }
        for continuation in ready { continuation.resume(returning: line) }
    }

    func close() {
        let waiting = self.state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.continuation)
        }
        for continuation in waiting { continuation.resume(returning: nil) }
    }

    /// Line `index`, or nil when the connection closed first or the waiting task is cancelled.
    func line(at index: Int) async -> String? {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let result: String?? = self.state.withLock { state in
                    if index < state.lines.count { return .some(state.lines[index]) }
                    if state.closed || Task.isCancelled { return .some(nil) }
                    state.waiters.append((id, index, continuation))
                    return nil
                }
                if let result { continuation.resume(returning: result) }
            }
        } onCancel: {
            let waiter = self.state.withLock { state -> CheckedContinuation<String?, Never>? in
                guard let i = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: i).continuation
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// Splits the byte stream at newlines.
struct LineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return .needMoreData }
        let length = newline - buffer.readerIndex
        let line = buffer.readSlice(length: length)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }
}

/// An HTTP target whose answer the test switches: `ok`, `error` (500), `hang`, or `slow`
/// (200 after a delay, timed by the server's event loop). A `lag`, when set, goes out as
/// an `X-Replication-Lag` header on every 200.
final class SwitchableTarget: Sendable {
    enum Mode: Sendable { case ok, error, hang, slow(TimeAmount) }
    let mode = Mutex(Mode.ok)
    let lag = Mutex<String?>(nil)
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    var port: Int { self.channel.withLock { $0?.localAddress?.port ?? 0 } }

    static func start() async throws -> SwitchableTarget {
        let target = SwitchableTarget()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(target: target))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        target.channel.withLock { $0 = channel }
        return target
    }

    func set(_ mode: Mode) {
        self.mode.withLock { $0 = mode }
    }

    func set(lag: String?) {
        self.lag.withLock { $0 = lag }
    }

    func stop() async {
        let channel = self.channel.withLock { $0 }
        try? await channel?.close()
    }

    final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let target: SwitchableTarget
        var request = ""

        init(target: SwitchableTarget) {
            self.target = target
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = self.unwrapInboundIn(data)
            self.request += buffer.readString(length: buffer.readableBytes) ?? ""
            guard self.request.contains("\r\n\r\n") else { return }
            self.request = ""
            let lag = self.target.lag.withLock { $0 }.map { "X-Replication-Lag: \($0)\r\n" } ?? ""
            let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\(lag)Connection: close\r\n\r\nok"
            let channel = context.channel
            switch self.target.mode.withLock({ $0 }) {
            case .hang: return
            case .ok: Self.answer(ok, on: channel)
            case .error: Self.answer("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerror", on: channel)
            case .slow(let delay): channel.eventLoop.scheduleTask(in: delay) { Self.answer(ok, on: channel) }
            }
        }

        static func answer(_ text: String, on channel: any Channel) {
            channel.writeAndFlush(ByteBuffer(string: text)).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
