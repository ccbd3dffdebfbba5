import Foundation
import NIOCore
import NIOPosix
import RegionCore
import Synchronization
import Testing

/// regionctl against a regiond that stops mid-request: the connection closes after the
/// request line was read, before any reply. A real regiond cannot be made to do that on
/// cue, so this server does: it closes the first `unanswered` connections after reading
/// their request, and answers `version` after that.
@Suite("regionctl when regiond closes before answering")
struct RegionctlReconnectTests {
    final class Counter: Sendable {
        let requests = Atomic<Int>(0)
    }

    /// One per connection: acts once the request line (up to its newline) is in.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let counter: Counter
        let unanswered: Int
        let reply: String
        var done = false

        init(counter: Counter, unanswered: Int, reply: String) {
            self.counter = counter
            self.unanswered = unanswered
            self.reply = reply
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = self.unwrapInboundIn(data)
            guard !self.done, bytes.readableBytesView.contains(UInt8(ascii: "\n")) else { return }
            self.done = true
            let seen = self.counter.requests.wrappingAdd(1, ordering: .relaxed).newValue
            if seen <= self.unanswered {
                context.close(promise: nil)
            } else {
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: self.reply)), promise: nil)
            }
        }
    }

    /// Runs regionctl ARGS against a server that leaves `unanswered` requests unanswered;
    /// returns its result and how many requests the server read.
    static func regionctl(_ arguments: [String], unanswered: Int) async throws -> (ProcessResult, Int) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rctl-\(UUID().uuidString.prefix(8)).sock").path
        let counter = Counter()
        let reply = String(decoding: try ControlProtocol.encoder().encode(
            ControlReply<VersionReport>(id: nil, result: VersionReport(version: "9.9.9", protocolVersion: 1, commands: []))), as: UTF8.self) + "\n"
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(counter: counter, unanswered: unanswered, reply: reply))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        defer {
            server.close(promise: nil)
            try? FileManager.default.removeItem(atPath: path)
        }
        let run = try await runProgram(Binaries.regionctl, arguments + ["--socket", path])
        return (run, counter.requests.load(ordering: .relaxed))
    }

    @Test func aReadingCommandIsAskedAgain() async throws {
        let (run, requests) = try await Self.regionctl(["version"], unanswered: 2)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("regiond 9.9.9"))
        #expect(requests == 3)
    }

    @Test func aReadingCommandGivesUpAfterFiveAttempts() async throws {
        let (run, requests) = try await Self.regionctl(["version"], unanswered: 100)
        #expect(run.status == 69)
        #expect(run.stderr.contains("closed the connection without answering"))
        #expect(requests == 5)
    }

    /// A state-changing command may have been done before the close: it is not repeated.
    @Test func aStateChangingCommandIsNotRepeated() async throws {
        let (run, requests) = try await Self.regionctl(["pin", "--reason", "test"], unanswered: 100)
        #expect(run.status == 69)
        #expect(run.stderr.contains("may or may not have been done"))
        #expect(requests == 1)
    }
}
