import Foundation
import NIOCore
import NIOPosix
import RegionCore

/// A lean HTTP/1.1 probe for `http://` endpoints, straight on NIO.
///
/// A health check needs one request on a new connection and a bounded read of the
/// answer. Doing only that (one channel, one promise, the deadline as an event-loop
/// timer rather than an extra task) costs a fraction of a general HTTP client's
/// per-request work, which is what lets one machine probe thousands of endpoints a
/// second. `https://` endpoints still go through AsyncHTTPClient and NIOSSL.
enum PlainHTTPProbe {
    struct Target: Sendable {
        var host: String
        var port: Int
        /// Set when the host is an IP literal: connect without a resolver round trip.
        var address: SocketAddress?
        var requestHead: ByteBuffer
    }

    /// Parses the URL once per probe; nil when it is not a plain http:// URL.
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
        return Target(host: host, port: port, address: try? SocketAddress(ipAddress: literal, port: port), requestHead: ByteBuffer(string: head))
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
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(check: check, maxBody: maxBody, promise: promise))
                }
            }
        let connected = target.address.map { bootstrap.connect(to: $0) } ?? bootstrap.connect(host: target.host, port: target.port)
        let deadline = loop.scheduleTask(in: .nanoseconds(nanos)) {
            promise.succeed(.fail(.timeout, "no answer within \(formatDuration(timeout))"))
        }
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                channel.writeAndFlush(target.requestHead, promise: nil)
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

    /// Collects the response up to the header limit plus `maxBody`, then judges it.
    /// Lives on one event loop; its promise completes exactly once.
    final class ResponseCollector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        static let headerLimit = 16 * 1024

        let check: HTTPCheck
        let maxBody: Int
        let promise: EventLoopPromise<ProbeOutcome>
        private var buffer = ByteBuffer()
        private var head: Head?
        private var done = false

        struct Head {
            var status: Int
            var headers: [(String, String)]
            var bodyStart: Int
            var contentLength: Int?
            var chunked: Bool
        }

        init(check: HTTPCheck, maxBody: Int, promise: EventLoopPromise<ProbeOutcome>) {
            self.check = check
            self.maxBody = maxBody
            self.promise = promise
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.done else { return }
            var chunk = self.unwrapInboundIn(data)
            self.buffer.writeBuffer(&chunk)
            if self.head == nil {
                switch self.parseHead() {
                case .incomplete:
                    if self.buffer.readableBytes > Self.headerLimit { self.finish(.fail(.body, "response headers larger than \(Self.headerLimit) bytes")) }
                    return
                case .invalid:
                    return self.finish(.fail(.body, "not a valid HTTP response"))
                case .head(let parsed):
                    self.head = parsed
                }
            }
            guard let head = self.head else { return }
            let body = self.buffer.readableBytes - head.bodyStart
            if let length = head.contentLength, body >= length {
                self.judge(truncated: false)
            } else if body > self.maxBody {
                self.judge(truncated: true)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            if self.head != nil {
                self.judge(truncated: false)
            } else if self.buffer.readableBytes == 0 {
                self.finish(.fail(.refused, "connection closed by the server before a response"))
            } else {
                self.finish(.fail(.body, "not a valid HTTP response"))
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
            let end = min(self.buffer.readableBytes, head.contentLength.map { head.bodyStart + $0 } ?? Int.max)
            var body = Array(self.buffer.readableBytesView.dropFirst(head.bodyStart).prefix(max(0, end - head.bodyStart)))
            if head.chunked { body = Self.dechunk(body) }
            let limited = Array(body.prefix(self.maxBody))
            self.finish(
                HTTPVerdict.judge(
                    check: self.check, status: head.status,
                    header: { name in
                        let wanted = name.lowercased()
                        return head.headers.first { $0.0.lowercased() == wanted }?.1
                    },
                    body: limited, truncated: truncated || body.count > self.maxBody, maxBody: self.maxBody))
        }

        /// Parses the status line and headers once they are complete.
        enum Parsed {
            case incomplete
            case invalid
            case head(Head)
        }

        /// Works on the bytes (no Foundation string handling: this runs once per probe).
        private func parseHead() -> Parsed {
            let bytes = self.buffer.readableBytesView
            guard let end = Self.find(bytes, [13, 10, 13, 10]) else { return .incomplete }
            let head = Array(bytes[bytes.startIndex..<end])
            var lines = Self.lines(head)
            let statusLine = lines.removeFirst()
            guard let status = Self.statusCode(statusLine) else { return .invalid }
            var headers: [(String, String)] = []
            var length: Int?
            var chunked = false
            for line in lines {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let name = Self.trimmed(line[line.startIndex..<colon])
                let value = Self.trimmed(line[(colon + 1)...])
                headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
                if Self.equalsIgnoringCase(name, "content-length") {
                    length = Int(String(decoding: value, as: UTF8.self))
                } else if Self.equalsIgnoringCase(name, "transfer-encoding"), Self.contains(value, lowercased: "chunked") {
                    chunked = true
                }
            }
            if self.check.method == "HEAD" || status == 204 || status == 304 { length = 0 }
            return .head(Head(status: status, headers: headers, bodyStart: end - bytes.startIndex + 4, contentLength: chunked ? nil : length, chunked: chunked))
        }

        /// The lines of a head split at CRLF.
        static func lines(_ head: [UInt8]) -> [ArraySlice<UInt8>] {
            var lines: [ArraySlice<UInt8>] = []
            var start = 0
            var i = 0
            while i + 1 < head.count {
                if head[i] == 13, head[i + 1] == 10 {
                    lines.append(head[start..<i])
                    i += 2
                    start = i
                } else {
                    i += 1
                }
            }
            lines.append(head[start..<head.count])
            return lines
        }

        /// The status code of "HTTP/1.x NNN reason", or nil when the line is not one.
        static func statusCode(_ line: ArraySlice<UInt8>) -> Int? {
            guard line.starts(with: "HTTP/1.".utf8), let space = line.firstIndex(of: UInt8(ascii: " ")) else { return nil }
            let digits = line[(space + 1)...].prefix { $0 != UInt8(ascii: " ") }
            guard digits.count == 3, digits.allSatisfy({ (48...57).contains($0) }) else { return nil }
            let code = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
            return (100...599).contains(code) ? code : nil
        }

        static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
            let blank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 }
            guard let first = bytes.firstIndex(where: { !blank($0) }), let last = bytes.lastIndex(where: { !blank($0) }) else { return [] }
            return bytes[first...last]
        }

        /// ASCII case-insensitive equality with a lowercase `name`.
        static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ name: StaticString) -> Bool {
            guard bytes.count == name.utf8CodeUnitCount else { return false }
            return name.withUTF8Buffer { lower in
                zip(bytes, lower).allSatisfy { a, b in (a >= 65 && a <= 90 ? a + 32 : a) == b }
            }
        }

        /// Whether `bytes`, lowercased (ASCII), contain the lowercase `word`.
        static func contains(_ bytes: ArraySlice<UInt8>, lowercased word: StaticString) -> Bool {
            let lowered = bytes.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            return word.withUTF8Buffer { needle in
                guard needle.count <= lowered.count else { return false }
                return (0...(lowered.count - needle.count)).contains { start in
                    lowered[start..<(start + needle.count)].elementsEqual(needle)
                }
            }
        }

        static func find(_ haystack: ByteBufferView, _ needle: [UInt8]) -> Int? {
            guard haystack.count >= needle.count else { return nil }
            var i = haystack.startIndex
            while i <= haystack.endIndex - needle.count {
                if haystack[i] == needle[0], haystack[i + 1] == needle[1], haystack[i + 2] == needle[2], haystack[i + 3] == needle[3] { return i }
                i += 1
            }
            return nil
        }

        /// Decodes a chunked body as far as it is present.
        static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = []
            var i = 0
            while i < bytes.count {
                guard let lineEnd = (i..<bytes.count - 1).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { break }
                let sizeText = String(decoding: bytes[i..<lineEnd], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
                let start = lineEnd + 2
                out.append(contentsOf: bytes[start..<min(bytes.count, start + size)])
                i = start + size + 2
            }
            return out
        }
    }
}
