import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RegionCore
import ServiceLifecycle
import Synchronization

/// The `[metrics]` HTTP listener: `GET /metrics` for Prometheus. Read-only; loopback by
/// default. A listener that cannot bind is logged and left off: monitoring regiond must
/// never be the reason it stops moving traffic.
struct MetricsServer<C: Clock>: Service where C.Duration == Duration {
    let address: HostPort
    let exporter: MetricsExporter<C>
    let group: any EventLoopGroup
    let logger: Logger
    /// Connections at once; more are closed at once (a scraper needs one).
    var maxConnections = 64
    private let connections = ConnectionCount()

    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    init(address: HostPort, exporter: MetricsExporter<C>, group: any EventLoopGroup, logger: Logger) {
        self.address = address
        self.exporter = exporter
        self.group = group
        self.logger = logger
    }

    func run() async throws {
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: self.group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: false)
                .bind(host: self.address.host, port: self.address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            self.logger.error("metrics listener on \(self.address) failed: \(error); regiond runs on without it. Fix [metrics] listen and reload or restart")
            try? await gracefulShutdown()
            return
        }
        self.logger.info("metrics listening", metadata: ["metrics.listen": "\(self.address)"])
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
        }
    }

    private func serve(_ connection: Connection) async {
        let active = self.connections.value.wrappingAdd(1, ordering: .relaxed).newValue
        defer { self.connections.value.wrappingSubtract(1, ordering: .relaxed) }
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
                    let (status, type, body) = await self.answer(request)
                    var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", "\(body.count)")])
                    if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                    if request.method != .HEAD { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                    try await outbound.write(.end(nil))
                    if !request.isKeepAlive { return }
                    head = nil
                }
            }
        }
    }

    func answer(_ request: HTTPRequestHead) async -> (HTTPResponseStatus, String, [UInt8]) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard request.method == .GET || request.method == .HEAD else {
            return (.methodNotAllowed, "text/plain; charset=utf-8", Array("only GET and HEAD\n".utf8))
        }
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", await self.exporter.scrape())
        case "/":
            return (.ok, "text/plain; charset=utf-8", Array("regiond \(RegiondVersion.string): metrics at /metrics\n".utf8))
        default:
            return (.notFound, "text/plain; charset=utf-8", Array("not found; metrics are at /metrics\n".utf8))
        }
    }
}

final class ConnectionCount: Sendable {
    let value = Atomic<Int>(0)
}
