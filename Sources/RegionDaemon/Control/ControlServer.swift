import CSystemd
import Foundation
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import RegionCore
import ServiceLifecycle
import Synchronization

/// The control socket: newline-delimited JSON over a Unix stream socket.
///
/// Each line is capped (`max_request_bytes`), idle clients are dropped after
/// `client_idle_timeout`, and clients beyond `max_clients` get a `busy` error.
/// Connections run in a discarding task group, so finished ones free their memory.
public struct ControlServer<C: Clock>: Service where C.Duration == Duration {
    let settings: DaemonSettings
    let service: ControlService<C>
    let bus: EventBus
    let logger: Logger
    let group: any EventLoopGroup
    /// Called once the socket is bound and listening (sends `READY=1`).
    let onListening: @Sendable () async -> Void
    /// The clients connected now (also `regiond_control_clients`).
    let connections: OpenConnections
    /// The socket systemd holds for regiond (`regiond.socket`), if it passed one: served
    /// as it is (its mode and group are the socket unit's) and left in place at stop.
    let inherited: InheritedSocket?

    public init(
        settings: DaemonSettings, service: ControlService<C>, bus: EventBus, logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connections: OpenConnections = OpenConnections(), inherited: InheritedSocket? = nil, onListening: @escaping @Sendable () async -> Void
    ) {
        self.inherited = inherited
        self.connections = connections
        self.settings = settings
        self.service = service
        self.bus = bus
        self.logger = logger
        self.group = group
        self.onListening = onListening
    }

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    public func run() async throws {
        let path = self.inherited?.path ?? self.settings.controlSocket
        let idle = TimeAmount.nanoseconds(Int64(self.settings.clientIdleTimeout.seconds * 1e9))
        let maxBytes = self.settings.maxRequestBytes
        let bootstrap = ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 512)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        @Sendable func initialize(_ channel: any Channel) -> EventLoopFuture<AcceptedConnection> {
            let options = channel as! any SocketOptionProvider
            let credentials: EventLoopFuture<regiond_peer_credentials> = options.unsafeGetSocketOption(
                level: .socket, name: .init(rawValue: regiond_so_peercred))
            return credentials.flatMapThrowing { cred in
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(IdleStateHandler(readTimeout: idle), name: "idle")
                try sync.addHandler(LineIdleDisconnector(), name: "idle-disconnect")
                try sync.addHandler(StalledReaderDisconnector(limit: idle))
                try sync.addHandler(ByteToMessageHandler(LineBasedFrameDecoder(), maximumBufferSize: maxBytes))
                // socat and `nc -N` close their sending side after the request: answer anyway
                // (the inbound stream ends at EOF; the reply is still written).
                let connection = try Connection(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(isOutboundHalfClosureEnabled: true))
                return AcceptedConnection(connection, peer: PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid))
            }
        }
        let server: NIOAsyncChannel<AcceptedConnection, Never>
        if let inherited = self.inherited {
            server = try await bootstrap.bind(NIOBSDSocket.Handle(inherited.descriptor), childChannelInitializer: initialize)
            if inherited.path != self.settings.controlSocket {
                self.logger.warning("systemd passed the control socket \(inherited.path), but [daemon] control_socket is \(self.settings.controlSocket): serving on \(inherited.path); make the two agree (regiond.socket's ListenStream=)")
            }
            self.logger.info("control socket listening (held by systemd: regiond.socket)", metadata: ["socket.path": "\(path)"])
        } else {
            try Self.prepareDirectory(for: path)
            server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initialize)
            try self.applyPermissions(path)
            self.logger.info("control socket listening", metadata: ["socket.path": "\(path)"])
        }
        await self.onListening()

        try await withGracefulShutdownHandler {
            do {
                // At shutdown every connection task is cancelled as well as its socket closed,
                // so no client (a watcher, an idle one, one mid-request) can hold the stop open.
                try await cancelWhenGracefulShutdown {
                    try await server.executeThenClose { inbound in
                        try await withThrowingDiscardingTaskGroup { group in
                            for try await accepted in inbound {
                                guard let connection = accepted.take() else { continue }
                                group.addTask { await self.serve(connection, peer: accepted.peer) }
                            }
                        }
                    }
                }
            } catch is CancellationError {
                // The expected end of a graceful shutdown, not a failure of the service.
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
            self.connections.closeAll()
        }
        // systemd's socket stays, with the clients that arrive before the next regiond.
        if self.inherited == nil { try? FileManager.default.removeItem(atPath: path) }
    }

    static func prepareDirectory(for path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
    }

    /// Sets the socket's mode and group after bind (bind takes them from the umask).
    func applyPermissions(_ path: String) throws {
        if chmod(path, mode_t(self.settings.socketMode)) != 0 {
            throw ControlServerError(message: "chmod \(path): \(String(cString: strerror(errno)))")
        }
        if let name = self.settings.socketGroup {
            guard let group = getgrnam(name) else {
                throw ControlServerError(message: "socket_group '\(name)' does not exist; create it or change [daemon] socket_group")
            }
            if chown(path, uid_t.max, group.pointee.gr_gid) != 0 {
                throw ControlServerError(message: "chgrp \(name) \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    func serve(_ connection: Connection, peer: PeerCredentials) async {
        let active = self.connections.count.wrappingAdd(1, ordering: .relaxed).newValue
        self.connections.add(connection.channel)
        defer {
            self.connections.remove(connection.channel)
            self.connections.count.subtract(1, ordering: .relaxed)
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                if active > self.settings.maxClients {
                    let error = ControlError(.busy, "too many control clients (\(self.settings.maxClients)); try again shortly")
                    try await outbound.write(Self.line(ControlService<C>.encode(ControlReply<NoResult>(id: nil, error: error))))
                    await connection.channel.flushThenShutdownOutput()
                    return
                }
                do {
                    for try await buffer in inbound {
                        let text = String(buffer: buffer)
                        switch await self.service.respond(to: text, peer: peer) {
                        case .reply(let line):
                            try await outbound.write(Self.line(line))
                        case .watch(let line):
                            try await self.streamEvents(to: outbound, channel: connection.channel, acknowledging: line)
                            return
                        }
                    }
                } catch is ByteToMessageDecoderError.PayloadTooLargeError {
                    let error = ControlError(.tooLarge, "request line longer than \(self.settings.maxRequestBytes) bytes; connection closed")
                    try? await outbound.write(Self.line(ControlService<C>.encode(ControlReply<NoResult>(id: nil, error: error))))
                }
                // The client is done sending (or too large to hear): what is still
                // queued for it goes out before the close.
                await connection.channel.flushThenShutdownOutput()
            }
        } catch {
            // A client that vanished mid-reply: nothing to tell it.
            self.logger.debug("control client ended", metadata: ["error": "\(error)", "peer.pid": "\(peer.pid)"])
        }
    }

    /// Streams events until the client leaves or the daemon stops.
    /// Subscribes first, then acknowledges: a client that has the acknowledgement sees
    /// every event published after it. (Acknowledging first lost the events published in
    /// between; a regiond starved of CPU took long enough for a `decisions_held` to fall
    /// in that gap, and a CI run of the starvation test waited for it in vain.)
    func streamEvents(to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: any Channel, acknowledging ack: String) async throws {
        // A watcher sends nothing; it must not be dropped as idle.
        do {
            try await channel.pipeline.removeHandler(name: "idle-disconnect").get()
        } catch {
            self.logger.error("cannot exempt a watch client from the idle timeout: \(error)")
        }
        let events = await self.bus.subscribe()
        try await outbound.write(Self.line(ack))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events {
                    try await outbound.write(Self.line(ControlService<C>.encodeEvent(event)))
                }
            }
            group.addTask {
                try? await channel.closeFuture.get()
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }

    static func line(_ text: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}

/// An accepted connection on its way to the accept loop.
///
/// When the accept loop ends (cancelled at shutdown), NIO drops the connections it has
/// accepted but not yet handed over (apple/swift-nio#2637 and #2813), and a
/// `NIOAsyncChannel` released without `executeThenClose` traps the process. The loop
/// takes the connection out of this box; one never taken is closed from `deinit`.
final class AcceptedConnection: Sendable {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private let connection: Mutex<Connection?>
    let peer: PeerCredentials

    init(_ connection: Connection, peer: PeerCredentials) {
        self.connection = Mutex(connection)
        self.peer = peer
    }

    /// The connection, once: whoever takes it must serve it with `executeThenClose`.
    func take() -> Connection? {
        self.connection.withLock { connection in
            defer { connection = nil }
            return connection
        }
    }

    deinit {
        if let unserved = self.take() {
            Task { try? await unserved.executeThenClose { _, _ in } }
        }
    }
}

struct ControlServerError: Error, CustomStringConvertible {
    var message: String
    var description: String { self.message }
}
