import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization

// What keeps a listener's clients from holding regiond: the control socket and the
// metrics listener both use these.

/// A listener's open connections: counted for its connection limit, and closed at
/// shutdown (a watcher, an idle client or a keep-alive scraper would otherwise hold
/// the shutdown open).
public final class OpenConnections: Sendable {
    let count = Atomic<Int>(0)

    public init() {}

    /// Connections open now.
    public var open: Int { self.count.load(ordering: .relaxed) }
    /// NIO's lock, which ThreadSanitizer understands (see ``ProbeStatistics``).
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let closing = Atomic<Bool>(false)

    func add(_ channel: any Channel) {
        self.channels.withLockedValue { $0[ObjectIdentifier(channel)] = channel }
        if self.closing.load(ordering: .sequentiallyConsistent) { channel.close(promise: nil) }
    }

    func remove(_ channel: any Channel) {
        self.channels.withLockedValue { $0[ObjectIdentifier(channel)] = nil }
    }

    func closeAll() {
        self.closing.store(true, ordering: .sequentiallyConsistent)
        let all = self.channels.withLockedValue { Array($0.values) }
        for channel in all { channel.close(promise: nil) }
    }
}

extension Channel {
    /// Sends what was written so far, then shuts the sending side: the full close that
    /// follows would otherwise drop the writes still queued (a large reply to a client
    /// that reads more slowly than regiond writes). Errors are the peer's to see.
    func flushThenShutdownOutput() async {
        try? await self.close(mode: .output).get()
    }
}

/// Closes a connection whose client has been idle past the timeout (an
/// `IdleStateHandler` read event): nothing read, and no request of its waiting for a
/// reply. A request that takes long to answer (a large `analytics`, a loaded machine)
/// does not make its client idle.
/// Removable: a `watch` client takes it out of its pipeline, since watchers send nothing.
final class IdleDisconnector<In, Out>: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = In
    typealias InboundOut = In
    typealias OutboundIn = Out
    typealias OutboundOut = Out

    /// Requests read and replies written; more requests than replies: one is pending.
    private var requests = 0
    private var replies = 0
    private let requestsIn: (In) -> Int
    private let endsReply: (Out) -> Bool

    init(requestsIn: @escaping (In) -> Int, endsReply: @escaping (Out) -> Bool) {
        self.requestsIn = requestsIn
        self.endsReply = endsReply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.requests += self.requestsIn(self.unwrapInboundIn(data))
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if self.endsReply(self.unwrapOutboundIn(data)) { self.replies += 1 }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            if self.replies >= self.requests { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// The control socket's: raw bytes before the line decoder, one request per newline,
/// one write per reply.
typealias LineIdleDisconnector = IdleDisconnector<ByteBuffer, ByteBuffer>

extension IdleDisconnector where In == ByteBuffer, Out == ByteBuffer {
    convenience init() {
        self.init(
            requestsIn: { buffer in buffer.readableBytesView.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } },
            endsReply: { _ in true })
    }
}

/// The metrics listener's: after the HTTP codec, a request and a reply each end with `.end`.
typealias HTTPIdleDisconnector = IdleDisconnector<HTTPServerRequestPart, HTTPServerResponsePart>

extension IdleDisconnector where In == HTTPServerRequestPart, Out == HTTPServerResponsePart {
    convenience init() {
        self.init(
            requestsIn: { part in
                if case .end = part { return 1 }
                return 0
            },
            endsReply: { part in
                if case .end = part { return true }
                return false
            })
    }
}

/// Closes a connection whose client stopped reading: once its replies have backed up
/// (the channel is not writable) for longer than `limit`, it is closed. A client that
/// floods requests without reading then holds no more than the socket buffers and
/// NIO's write high-water mark (64 KiB), and its slot is freed for others.
final class StalledReaderDisconnector: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    let limit: TimeAmount
    private var timer: Scheduled<Void>?

    init(limit: TimeAmount) {
        self.limit = limit
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if !context.channel.isWritable {
            if self.timer == nil {
                let channel = context.channel
                self.timer = context.eventLoop.scheduleTask(in: self.limit) { channel.close(promise: nil) }
            }
        } else {
            self.timer?.cancel()
            self.timer = nil
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }
}
