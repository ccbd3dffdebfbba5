import NIOCore
import NIOPosix
import Testing

@testable import RegionDaemon

/// A reply larger than the socket buffers, to a client that reads it only after the
/// server is done writing: a plain close drops what NIO still queues; closing after
/// `flushThenShutdownOutput` drops nothing. (`make bench` saw 4 MB metrics scrapes cut
/// short this way.) Both cases run, so the test shows the loss it guards against.
@Suite("flushThenShutdownOutput")
struct FlushThenCloseTests {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>
    static let replyBytes = 48 * 1024  // under NIO's 64 KiB write high-water mark, far over 4 KiB buffers

    /// Bytes the client received before the end of the stream.
    static func received(flushFirst: Bool) async throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .childChannelOption(.socketOption(.so_sndbuf), value: 4096)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
            }
        let port = server.channel.localAddress!.port!
        let client = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .connect(host: "127.0.0.1", port: port)
            .flatMapThrowing { try Connection(wrappingChannelSynchronously: $0) }.get()
        let (written, handed) = AsyncStream.makeStream(of: Void.self)
        async let serving: Void = server.executeThenClose { inbound in
            var connections = inbound.makeAsyncIterator()
            guard let connection = try await connections.next() else { return }
            try await connection.executeThenClose { _, outbound in
                try await outbound.write(ByteBuffer(repeating: UInt8(ascii: "x"), count: Self.replyBytes))
                // Every byte is with NIO or the kernel; the client has read none.
                if flushFirst {
                    handed.yield()
                    await connection.channel.flushThenShutdownOutput()
                }
            }
            // Without the flush the close comes first, and only then does the client read.
            if !flushFirst { handed.yield() }
        }
        let count = try await client.executeThenClose { inbound, _ in
            for await _ in written { break }
            var count = 0
            for try await chunk in inbound { count += chunk.readableBytes }
            return count
        }
        try await serving
        return count
    }

    @Test func aCloseAfterFlushingDropsNothing() async throws {
        #expect(try await Self.received(flushFirst: true) == Self.replyBytes)
    }

    @Test func aPlainCloseDropsWhatIsStillQueued() async throws {
        #expect(try await Self.received(flushFirst: false) < Self.replyBytes)
    }
}
