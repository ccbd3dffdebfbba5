import NIOCore
import NIOEmbedded
import NIOHTTP1
import RegionCore
import RegionProbes

/// Bytes from a probed endpoint: the probe's llhttp framing must give the same verdict
/// as NIOHTTP1's `HTTPResponseDecoder` (the same parser behind a full channel pipeline)
/// on the same bytes, split the same way. That is the proof that the lean framing is
/// as strict as the decoder, run on every input the fuzzer finds. A probe loop's pooled
/// answer, reset after reading the same bytes once, must judge them as a fresh one.
enum ProbeAnswerHarness {
    static let check: HTTPCheck = {
        var check = HTTPCheck(url: "http://127.0.0.1:9/healthz")
        check.bodyContains = "ok"
        check.capacityHeader = "X-Capacity"
        return check
    }()
    static let maxBody = 64

    /// The first byte sets the size of the reads (1...256 bytes); the rest is the answer.
    static func chunks(_ input: [UInt8]) -> [[UInt8]] {
        guard let first = input.first else { return [] }
        let size = Int(first) + 1
        let answer = Array(input.dropFirst())
        return stride(from: 0, to: answer.count, by: size).map { Array(answer[$0..<min($0 + size, answer.count)]) }
    }

    static func run(_ input: [UInt8]) -> String? {
        let chunks = Self.chunks(input)
        for method in ["GET", "HEAD"] {
            var check = Self.check
            check.method = method
            let ours = ResponseReplay.outcome(of: chunks, check: check, maxBody: Self.maxBody)
            let reference = ReferenceDecoder.outcome(of: chunks, check: check, maxBody: Self.maxBody)
            if ours.failure != reference.failure || ours.capacity != reference.capacity || (ours.passed && ours.detail != reference.detail) {
                return "\(method): the probe says \(ours), NIOHTTP1's decoder says \(reference)"
            }
            if let capacity = ours.capacity, !(0...1).contains(capacity) { return "capacity \(capacity) is outside 0...1" }
            if let differs = ResponseReplay.reuseDiffers(chunks, check: check, maxBody: Self.maxBody) { return "\(method): \(differs)" }
        }
        return nil
    }
}

/// The reference: NIOHTTP1's `HTTPResponseDecoder` in a channel pipeline, as the probe
/// used it before it drove llhttp directly (12% more CPU per probe).
public enum ReferenceDecoder {
    public static func outcome(of chunks: [[UInt8]], check: HTTPCheck, maxBody: Int) -> ProbeOutcome {
        let channel = EmbeddedChannel()
        let promise = channel.eventLoop.makePromise(of: ProbeOutcome.self)
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = 16 * 1024
        limits.maxHeaderListSize = 16 * 1024
        do {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(
                ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: limits)))
            try pipeline.addHandler(Collector(check: check, maxBody: maxBody, promise: promise))
            channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9), promise: nil)
            try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: check.method), uri: "/")))
            for chunk in chunks where channel.isActive {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            }
        } catch {
            channel.pipeline.fireErrorCaught(error)
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        let outcome = ResultBox<ProbeOutcome>()
        promise.futureResult.whenSuccess { outcome.value = $0 }
        promise.succeed(.fail(.other, "probe ended without a result"))
        return outcome.value ?? .fail(.other, "probe ended without a result")
    }

    final class Collector: ChannelInboundHandler {
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
            self.finish(self.head == nil ? .fail(.refused, "closed before a response") : .fail(.body, "closed before the end"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.finish(.fail(.body, "not a valid HTTP response: \(error)"))
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
                    check: self.check, status: Int(head.status.code), header: { head.headers.first(name: $0) },
                    body: Array(self.body.readableBytesView), truncated: truncated, maxBody: self.maxBody))
        }
    }
}
