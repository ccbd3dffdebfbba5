import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import RegionCore

/// A lean HTTP/1.1 probe for `http://` endpoints, straight on NIO.
///
/// A health check needs one request on a new connection and a bounded read of the
/// answer. Doing only that (one channel, one promise, the deadline as an event-loop
/// timer rather than an extra task) costs a fraction of a general HTTP client's
/// per-request work, which is what lets one machine probe thousands of endpoints a
/// second. `https://` endpoints still go through AsyncHTTPClient and NIOSSL.
///
/// The response is framed by NIOHTTP1's `HTTPResponseDecoder` (llhttp, the parser of
/// Node.js): status line, headers, Content-Length, chunked encoding, interim 1xx
/// responses, bodiless HEAD answers. Nothing about HTTP framing is written by hand.
enum PlainHTTPProbe {
    struct Target: Sendable {
        var host: String
        var port: Int
        /// Set when the host is an IP literal: connect without a resolver round trip.
        var address: SocketAddress?
        /// The request, built once per endpoint.
        var requestBytes: ByteBuffer
        /// What the decoder is told was sent (it needs the method: HEAD answers have no body).
        var requestHead: HTTPRequestHead
    }

    /// The largest response head (status line and headers) a probe reads.
    static let headerLimit = 16 * 1024

    /// Parses the URL once per endpoint; nil when it is not a plain http:// URL.
    static func target(for check: HTTPCheck) -> Target? {
        guard let components = URLComponents(string: check.url), components.scheme == "http", let host = components.host, !host.isEmpty else {
            return nil
        }
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        // A Host header from the config replaces the one taken from the URL.
        let configuredHost = check.headers.first { $0.key.caseInsensitiveCompare("host") == .orderedSame }?.value
        let hostHeader = configuredHost ?? components.port.map { "\(host):\($0)" } ?? host
        var head = "\(check.method) \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: regiond/\(RegiondVersion.string)\r\nAccept: */*\r\nConnection: close\r\n"
        for (name, value) in check.headers.sorted(by: { $0.key < $1.key }) where name.caseInsensitiveCompare("host") != .orderedSame {
            head += "\(name): \(value)\r\n"
        }
        head += "\r\n"
        let port = components.port ?? 80
        let literal = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return Target(
            host: host, port: port, address: try? SocketAddress(ipAddress: literal, port: port), requestBytes: ByteBuffer(string: head),
            requestHead: HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: check.method), uri: path))
    }

    /// The handlers that turn the request into bytes and the answer into an outcome.
    static func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, check: HTTPCheck, target: Target, maxBody: Int, promise: EventLoopPromise<ProbeOutcome>) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = Self.headerLimit
        limits.maxHeaderListSize = Self.headerLimit
        try pipeline.addHandler(RequestWriter(bytes: target.requestBytes))
        try pipeline.addHandler(
            ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: limits)))
        try pipeline.addHandler(ResponseCollector(check: check, maxBody: maxBody, promise: promise))
    }

    /// Starts one probe on the promise's loop; the promise completes there, by the timeout at the latest.
    static func start(_ check: HTTPCheck, target: Target, timeout: Duration, maxBody: Int, completing promise: EventLoopPromise<ProbeOutcome>) {
        let loop = promise.futureResult.eventLoop
        let nanos = Int64(timeout.seconds * 1e9)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(nanos))
            .channelOption(.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.addHandlers(to: channel.pipeline.syncOperations, check: check, target: target, maxBody: maxBody, promise: promise)
                }
            }
        let connected = target.address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: target.host, port: target.port)
        let deadline = loop.scheduleTask(in: .nanoseconds(nanos)) {
            promise.succeed(.fail(.timeout, "no answer within \(formatDuration(timeout))"))
        }
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                channel.writeAndFlush(HTTPClientRequestPart.head(target.requestHead), promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                let (failure, detail) = ProbeErrorClassifier.classify(error)
                promise.succeed(.fail(failure, detail))
            }
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
    }

    /// One probe, awaited; cancelling the waiting task ends it as a timeout.
    static func run(_ check: HTTPCheck, target: Target, timeout: Duration, maxBody: Int, group: any EventLoopGroup) async -> ProbeOutcome {
        let promise = group.next().makePromise(of: ProbeOutcome.self)
        self.start(check, target: target, timeout: timeout, maxBody: maxBody, completing: promise)
        return await withTaskCancellationHandler {
            (try? await promise.futureResult.get()) ?? .fail(.other, "probe ended without a result")
        } onCancel: {
            promise.succeed(.fail(.timeout, "cancelled"))
        }
    }

    /// Writes the prepared request bytes in place of the request head the decoder observed.
    final class RequestWriter: ChannelOutboundHandler {
        typealias OutboundIn = HTTPClientRequestPart
        typealias OutboundOut = ByteBuffer
        let bytes: ByteBuffer

        init(bytes: ByteBuffer) {
            self.bytes = bytes
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            switch self.unwrapOutboundIn(data) {
            case .head: context.write(self.wrapOutboundOut(self.bytes), promise: promise)
            case .body, .end: promise?.succeed(())
            }
        }
    }

    /// Collects the decoded response (head, then at most `maxBody` bytes of body) and
    /// judges it. Lives on one event loop; its promise completes exactly once.
    final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        let check: HTTPCheck
        let maxBody: Int
        let promise: EventLoopPromise<ProbeOutcome>
        private var head: HTTPResponseHead?
        private var body = ByteBuffer()
        private var done = false

        init(check: HTTPCheck, maxBody: Int, promise: EventLoopPromise<ProbeOutcome>) {
            self.check = check
            self.maxBody = maxBody
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.done else { return }
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                // Interim 1xx answers are dropped by the decoder; this is the final one.
                self.head = head
            case .body(var chunk):
                let room = self.maxBody - self.body.readableBytes
                if chunk.readableBytes > room {
                    if room > 0, let part = chunk.readSlice(length: room) { self.body.writeImmutableBuffer(part) }
                    self.judge(truncated: true)
                    context.close(promise: nil)
                } else {
                    self.body.writeBuffer(&chunk)
                }
            case .end:
                self.judge(truncated: false)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            // A parse error (garbage, a head cut short) has been reported by now; what is
            // left is a server that closed without answering at all.
            if self.head == nil {
                self.finish(.fail(.refused, "connection closed by the server before a response"))
            } else {
                self.finish(.fail(.body, "connection closed before the end of the response (\(self.body.readableBytes) body bytes read)"))
            }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            let (failure, detail) = ProbeErrorClassifier.classify(error)
            self.finish(.fail(failure, detail))
            context.close(promise: nil)
        }

        private func finish(_ outcome: ProbeOutcome) {
            guard !self.done else { return }
            self.done = true
            self.promise.succeed(outcome)
        }

        private func judge(truncated: Bool) {
            guard let head = self.head, !self.done else { return }
            self.finish(
                HTTPVerdict.judge(
                    check: self.check, status: Int(head.status.code),
                    header: { name in head.headers.first(name: name) },
                    body: Array(self.body.readableBytesView), truncated: truncated, maxBody: self.maxBody))
        }
    }
}
