import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import RegionDaemon

/// A control client is idle only when it has no request pending: a slow command (a
/// reload, an analytics over a long history) must not cost the client its answer.
@Suite("IdleDisconnector")
struct IdleDisconnectorTests {
    static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(LineIdleDisconnector())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    static func idle(_ channel: EmbeddedChannel) {
        channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.read)
        channel.embeddedEventLoop.run()
    }

    @Test func aClientThatNeverAskedIsIdle() throws {
        let channel = try Self.channel()
        Self.idle(channel)
        #expect(!channel.isActive)
    }

    @Test func aPendingRequestKeepsTheConnectionUntilItIsAnswered() throws {
        let channel = try Self.channel()
        // Two requests in one read, one more split over two reads.
        try channel.writeInbound(ByteBuffer(string: "{\"cmd\":\"status\"}\n{\"cmd\":\"reload\"}\n{\"cmd\""))
        try channel.writeInbound(ByteBuffer(string: ":\"traffic\"}\n"))
        Self.idle(channel)
        #expect(channel.isActive, "three requests, no reply yet")
        try channel.writeOutbound(ByteBuffer(string: "reply 1\n"))
        try channel.writeOutbound(ByteBuffer(string: "reply 2\n"))
        Self.idle(channel)
        #expect(channel.isActive, "one request still pending")
        try channel.writeOutbound(ByteBuffer(string: "reply 3\n"))
        Self.idle(channel)
        #expect(!channel.isActive, "every request answered, then idle")
    }

    @Test func otherEventsPassThrough() throws {
        let channel = try Self.channel()
        channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.write)
        channel.embeddedEventLoop.run()
        #expect(channel.isActive)
    }

    /// The metrics listener's: a scrape is pending from its request's `.end` until the reply's.
    @Test func anHTTPScrapeInProgressIsNotIdleButAKeptAliveConnectionIs() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTPIdleDisconnector())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/metrics")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        Self.idle(channel)
        #expect(channel.isActive, "the scrape is being answered")
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "x 1\n"))))
        Self.idle(channel)
        #expect(channel.isActive, "the reply has not ended")
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        Self.idle(channel)
        #expect(!channel.isActive, "answered, then idle past the timeout")
    }
}
