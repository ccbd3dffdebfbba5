import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP server that keeps every request it gets (an Alertmanager for Prometheus,
/// a webhook for an alert command) and answers each with `status`.
final class HTTPInbox: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var headers: [String: String]
        var body: String
    }

    let requests = LineInbox()
    private let kept = Mutex<[Request]>([])
    let status = Mutex(HTTPResponseStatus.ok)
    private let channel: any Channel
    var port: Int { self.channel.localAddress?.port ?? 0 }

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func start() async throws -> HTTPInbox {
        let box = Mutex<HTTPInbox?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler { box.withLock { $0 } })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let inbox = HTTPInbox(channel: channel)
        box.withLock { $0 = inbox }
        return inbox
    }

    /// Request `index` (0-based, in arrival order); nil if the inbox closed first.
    func request(at index: Int) async -> Request? {
        guard await self.requests.line(at: index) != nil else { return nil }
        return self.kept.withLock { $0[index] }
    }

    /// The first request from `index` on that `matches`, and the index after it.
    func next(from index: Int, where matches: (Request) -> Bool) async -> (Request, Int)? {
        var at = index
        while let request = await self.request(at: at) {
            at += 1
            if matches(request) { return (request, at) }
        }
        return nil
    }

    func stop() async {
        self.requests.close()
        try? await self.channel.close()
    }

    fileprivate func keep(_ request: Request) {
        // The request goes in before its line, so whoever the line wakes finds it.
        self.kept.withLock { $0.append(request) }
        self.requests.add("\(request.method) \(request.path)")
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let inbox: @Sendable () -> HTTPInbox?
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(inbox: @escaping @Sendable () -> HTTPInbox?) {
            self.inbox = inbox
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body.clear()
            case .body(var chunk):
                self.body.writeBuffer(&chunk)
            case .end:
                guard let head = self.head, let inbox = self.inbox() else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                inbox.keep(Request(method: "\(head.method)", path: head.uri, headers: headers, body: String(buffer: self.body)))
                let status = inbox.status.withLock { $0 }
                var response = HTTPHeaders([("Content-Length", "0")])
                if !head.isKeepAlive { response.add(name: "Connection", value: "close") }
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: response))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
