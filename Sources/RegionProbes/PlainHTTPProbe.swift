import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import RegionCore

/// A lean HTTP/1.1 probe for `http://` endpoints, straight on NIO.
///
/// A health check needs one request on a new connection and a bounded read of the
/// answer. Doing only that (one channel with one handler, one promise, the deadline as
/// an event-loop timer rather than an extra task) costs a fraction of a general HTTP
/// client's per-request work, which is what lets one machine probe thousands of
/// endpoints a second. `https://` endpoints still go through AsyncHTTPClient and NIOSSL.
///
/// The answer is framed by llhttp (``HTTPResponseFramer``), the parser inside NIOHTTP1's
/// `HTTPResponseDecoder`, driven directly: status line, headers, Content-Length, chunked
/// encoding, interim 1xx answers, bodiless HEAD answers. Nothing about HTTP framing is
/// written by hand, and the decoder's pipeline (three handlers and an allocation per
/// header, 12% more CPU per probe) is not paid for.
enum PlainHTTPProbe {
    struct Target: Sendable {
        var host: String
        var port: Int
        /// Set when the host is an IP literal: connect without a resolver round trip.
        var address: SocketAddress?
        /// The request, built once per endpoint.
        var requestBytes: ByteBuffer
        /// HEAD answers have no body, whatever their headers say.
        var isHead: Bool
    }

    /// The largest response head (status text, header names and values) a probe reads.
    static var headerLimit: Int { HTTPResponseFramer.headerLimit }

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
            isHead: check.method == "HEAD")
    }

    /// The handler that reads and judges the answer.
    static func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, check: HTTPCheck, target: Target, maxBody: Int, promise: EventLoopPromise<ProbeOutcome>) throws {
        try pipeline.addHandler(ResponseCollector(check: check, isHead: target.isHead, maxBody: maxBody, promise: promise))
    }

    /// Starts one probe on the promise's loop; the promise completes there, by the timeout at the latest.
    static func start(_ check: HTTPCheck, target: Target, timeout: Duration, maxBody: Int, completing promise: EventLoopPromise<ProbeOutcome>) {
        let loop = promise.futureResult.eventLoop
        let nanos = Int64(timeout.seconds * 1e9)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(nanos))
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
                channel.writeAndFlush(target.requestBytes, promise: nil)
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

    /// Feeds the answer to an ``HTTPAnswer`` and reports its outcome.
    /// Lives on one event loop; its promise completes exactly once.
    final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer

        let promise: EventLoopPromise<ProbeOutcome>
        private let answer: HTTPAnswer
        private var done = false

        init(check: HTTPCheck, isHead: Bool, maxBody: Int, promise: EventLoopPromise<ProbeOutcome>) {
            self.promise = promise
            self.answer = HTTPAnswer(check: check, isHead: isHead, maxBody: maxBody)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.done else { return }
            let buffer = self.unwrapInboundIn(data)
            if let outcome = buffer.withUnsafeReadableBytes({ self.answer.feed($0) }) {
                self.finish(outcome)
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if !self.done { self.finish(self.answer.finish()) }
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
    }
}
