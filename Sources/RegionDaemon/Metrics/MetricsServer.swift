import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RegionCore
import ServiceLifecycle
import Synchronization

/// The `[metrics]` HTTP listener: `GET /metrics` for Prometheus, and the status page
/// (`GET /`, `/api/status`, `/events`: ``StatusPage``). Read-only; loopback by default.
/// A listener that cannot bind is logged and left off: monitoring regiond must never be
/// the reason it stops moving traffic. Prometheus keeps its connection open
/// between scrapes; one idle for `idleTimeout` with no request pending is closed, and
/// every connection is closed at shutdown so that none holds the stop open.
struct MetricsServer<C: Clock>: Service where C.Duration == Duration {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    typealias Listener = NIOAsyncChannel<Connection, Never>

    let listener: Listener
    let address: HostPort
    let exporter: MetricsExporter<C>
    let page: StatusPage<C>
    let logger: Logger
    /// Connections at once; more are closed at once (a scraper needs one).
    var maxConnections = 64
    private let connections = OpenConnections()

    /// Binds before the services start, so `READY=1` means the metrics are up too. Nil,
    /// logged, when the address cannot be bound.
    /// - Parameter idleTimeout: longer than any sensible scrape interval, so a scraper keeps its connection.
    static func bind(_ address: HostPort, group: any EventLoopGroup, idleTimeout: TimeAmount = .seconds(150), logger: Logger) async -> Listener? {
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: false)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try sync.configureHTTPServerPipeline(withErrorHandling: true)
                        try sync.addHandler(HTTPIdleDisconnector())
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            logger.error("metrics listener on \(address) failed: \(error); regiond runs on without it. Fix [metrics] listen and reload or restart")
            return nil
        }
    }

    init(listener: Listener, address: HostPort, exporter: MetricsExporter<C>, page: StatusPage<C>, logger: Logger) {
        self.listener = listener
        self.address = address
        self.exporter = exporter
        self.page = page
        self.logger = logger
    }

    func run() async throws {
        self.logger.info("metrics listening", metadata: ["metrics.listen": "\(self.address)"])
        let server = self.listener
        try? await withGracefulShutdownHandler {
            try await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { tasks in
                    for try await connection in inbound {
                        tasks.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
            self.connections.closeAll()
        }
    }

    private func serve(_ connection: Connection) async {
        let active = self.connections.count.wrappingAdd(1, ordering: .relaxed).newValue
        self.connections.add(connection.channel)
        defer {
            self.connections.remove(connection.channel)
            self.connections.count.wrappingSubtract(1, ordering: .relaxed)
        }
        guard active <= self.maxConnections else {
            try? await connection.channel.close()
            return
        }
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let h): head = h
                case .body: break
                case .end:
                    guard let request = head else { continue }
                    let reply = await self.answer(request)
                    guard case .whole(let status, let type, let body) = reply else {
                        try await self.streamEvents(
                            to: outbound, version: request.version, channel: connection.channel,
                            after: Self.lastEventID(request.headers.first(name: "last-event-id")))
                        return
                    }
                    var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", "\(body.count)")])
                    headers.add(name: "Cache-Control", value: "no-store")
                    if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                    if request.method != .HEAD { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                    try await outbound.write(.end(nil))
                    if !request.isKeepAlive {
                        await connection.channel.flushThenShutdownOutput()
                        return
                    }
                    head = nil
                }
            }
        }
    }

    enum Reply {
        case whole(HTTPResponseStatus, String, [UInt8])
        /// `GET /events`: server-sent events until the client or regiond goes.
        case eventStream
    }

    func answer(_ request: HTTPRequestHead) async -> Reply {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard request.method == .GET || request.method == .HEAD else {
            return .whole(.methodNotAllowed, "text/plain; charset=utf-8", Array("only GET and HEAD: this listener is read-only\n".utf8))
        }
        switch path {
        case "/metrics":
            let text = await self.exporter.scrape()
            if OpenMetricsText.isAsked(byAccept: request.headers.first(name: "accept")) {
                return .whole(.ok, OpenMetricsText.contentType, OpenMetricsText.convert(text))
            }
            return .whole(.ok, "text/plain; version=0.0.4; charset=utf-8", text)
        case "/", "/index.html":
            return .whole(.ok, "text/html; charset=utf-8", StatusPage<C>.html)
        case "/api/status":
            return .whole(.ok, "application/json", await self.page.snapshot())
        case "/events" where request.method == .GET:
            return .eventStream
        default:
            return .whole(.notFound, "text/plain; charset=utf-8", Array("not found: the status page is at /, metrics at /metrics\n".utf8))
        }
    }

    /// The id a reconnecting client last saw (`Last-Event-ID`): a plain decimal that fits
    /// in 64 bits, or nil (a fresh subscription).
    static func lastEventID(_ header: String?) -> UInt64? {
        guard let text = header?.trimmingSpaces, !text.isEmpty, text.utf8.count <= 20,
            text.utf8.allSatisfy({ (48...57).contains($0) })
        else { return nil }
        return UInt64(text)
    }

    /// Writes each event as it is published, and a heartbeat after 15 quiet seconds so
    /// a client that vanished frees its connection. A client that comes back with
    /// `Last-Event-ID` first gets what it missed, without a gap or a repeat.
    private func streamEvents(
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, version: HTTPVersion, channel: any Channel, after lastSeen: UInt64?
    ) async throws {
        let headers = HTTPHeaders([("Content-Type", "text/event-stream"), ("Cache-Control", "no-store")])
        try await outbound.write(.head(HTTPResponseHead(version: version, status: .ok, headers: headers)))
        let events = if let lastSeen { await self.page.bus.subscribe(after: lastSeen) } else { await self.page.bus.subscribe() }
        let (frames, sink) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingNewest(256))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events { sink.yield(StatusPage<C>.frame(event)) }
                sink.finish()
            }
            group.addTask {
                while (try? await Task.sleep(for: .seconds(15))) != nil { sink.yield(StatusPage<C>.heartbeat) }
            }
            group.addTask {
                // Closed by the client, or by regiond at shutdown: stop at once.
                try? await channel.closeFuture.get()
                sink.finish()
            }
            for await frame in frames { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: frame)))) }
            group.cancelAll()
        }
    }
}
