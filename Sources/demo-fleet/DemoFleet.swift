import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A pretend fleet for the demo and the end-to-end tests: one HTTP server per
/// region on loopback, each answering `GET /healthz`, and a control port that
/// breaks or mends a region.
@main
struct DemoFleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-fleet",
        abstract: "Serve simulated regions on loopback for the regiond demo.",
        discussion: """
            Each region answers GET /healthz on its own port (base-port + 1, + 2, ...) with \
            {"region":..., "status":"ok", "capacity":0.9, "lag":0} and X-Capacity and \
            X-Replication-Lag headers.
            Change a region with the control port:  curl -X POST 127.0.0.1:BASE/REGION/MODE
            Modes: ok, error (HTTP 500), slow (answers after 1.5 s), slower (after 6 s), \
            degraded (capacity 0.3), down (stops listening: connections are refused).
            Set its replication lag:  curl -X POST 127.0.0.1:BASE/REGION/lag/SECONDS
            """
    )

    @Option(help: "Control port; region ports follow it.") var basePort: Int = 18080
    @Option(help: "Comma-separated region names.") var regions: String = "eu-west,us-east,ap-south"

    func run() async throws {
        let names = self.regions.split(separator: ",").map(String.init)
        let fleet = Fleet(group: MultiThreadedEventLoopGroup.singleton)
        for (i, name) in names.enumerated() {
            try await fleet.add(region: name, port: self.basePort + 1 + i)
        }
        let control = try await HTTPServer.start(port: self.basePort) { head, _ in
            await fleet.control(head)
        }
        let banner = "demo-fleet: control on 127.0.0.1:\(self.basePort); "
            + names.enumerated().map { "\($1) on :\(self.basePort + 1 + $0)" }.joined(separator: ", ")
        FileHandle.standardOutput.write(Data((banner + "\n").utf8))
        try await control.closeFuture.get()
    }
}

enum Mode: String, CaseIterable, Sendable {
    case ok, error, slow, slower, degraded, down
}

actor Fleet {
    struct Member {
        var port: Int
        var mode: Mode
        var channel: (any Channel)?
        var lag = 0
    }

    let group: any EventLoopGroup
    var members: [String: Member] = [:]

    init(group: any EventLoopGroup) {
        self.group = group
    }

    func add(region: String, port: Int) async throws {
        self.members[region] = Member(port: port, mode: .ok, channel: nil)
        try await self.listen(region)
    }

    func mode(of region: String) -> Mode {
        self.members[region]?.mode ?? .down
    }

    private func listen(_ region: String) async throws {
        guard let member = self.members[region], member.channel == nil else { return }
        let channel = try await HTTPServer.start(port: member.port) { [weak self] head, channel in
            guard let self else { return Response(status: .serviceUnavailable, body: "gone\n") }
            return await self.health(region, channel: channel)
        }
        self.members[region]?.channel = channel
    }

    func health(_ region: String, channel: any Channel) async -> Response {
        let mode = self.mode(of: region)
        let lag = self.members[region]?.lag ?? 0
        func ok(_ capacity: String) -> Response {
            Response(status: .ok, body: #"{"region":"\#(region)","status":"ok","capacity":\#(capacity),"lag":\#(lag)}"#, capacity: capacity, lag: "\(lag)")
        }
        switch mode {
        case .ok, .down:
            return ok("0.9")
        case .degraded:
            return ok("0.3")
        case .error:
            return Response(status: .internalServerError, body: #"{"region":"\#(region)","status":"error"}"#)
        case .slow, .slower:
            try? await channel.eventLoop.scheduleTask(in: .milliseconds(mode == .slow ? 1500 : 6000)) {}.futureResult.get()
            return ok("0.9")
        }
    }

    func control(_ head: HTTPRequestHead) async -> Response {
        let parts = head.uri.split(separator: "/").map(String.init)
        if parts.isEmpty {
            let lines = self.members.keys.sorted().map { "\($0) \(self.members[$0]!.mode.rawValue) :\(self.members[$0]!.port)" }
            return Response(status: .ok, body: lines.joined(separator: "\n") + "\n")
        }
        if parts.count == 3, parts[1] == "lag", self.members[parts[0]] != nil, let lag = Int(parts[2]), lag >= 0 {
            self.members[parts[0]]?.lag = lag
            return Response(status: .ok, body: "\(parts[0]) now reports a replication lag of \(lag) s\n")
        }
        guard parts.count == 2, self.members[parts[0]] != nil, let mode = Mode(rawValue: parts[1]) else {
            return Response(
                status: .badRequest,
                body: "use POST /REGION/MODE with MODE one of \(Mode.allCases.map(\.rawValue).joined(separator: ", ")), or POST /REGION/lag/SECONDS\n")
        }
        let region = parts[0]
        self.members[region]?.mode = mode
        if mode == .down {
            if let channel = self.members[region]?.channel {
                self.members[region]?.channel = nil
                try? await channel.close()
            }
        } else {
            do {
                try await self.listen(region)
            } catch {
                return Response(status: .internalServerError, body: "cannot listen again: \(error)\n")
            }
        }
        return Response(status: .ok, body: "\(region) is now \(mode.rawValue)\n")
    }
}

struct Response: Sendable {
    var status: HTTPResponseStatus
    var body: String
    var capacity: String? = nil
    var lag: String? = nil
}

/// A minimal HTTP/1.1 server: every request gets the handler's response, then the connection closes.
enum HTTPServer {
    typealias Handler = @Sendable (HTTPRequestHead, any Channel) async -> Response

    static func start(port: Int, handler: @escaping Handler) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(handler: handler))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
    }

    final class RequestHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let handler: Handler

        init(handler: @escaping Handler) {
            self.handler = handler
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = self.unwrapInboundIn(data) else { return }
            let channel = context.channel
            let handler = self.handler
            let loop = context.eventLoop
            let promise = loop.makePromise(of: Response.self)
            promise.completeWithTask { await handler(head, channel) }
            promise.futureResult.whenSuccess { response in
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
                headers.add(name: "Connection", value: "close")
                if let capacity = response.capacity { headers.add(name: "X-Capacity", value: capacity) }
                if let lag = response.lag { headers.add(name: "X-Replication-Lag", value: lag) }
                let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)
                channel.write(HTTPServerResponsePart.head(responseHead), promise: nil)
                channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: response.body))), promise: nil)
                channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
