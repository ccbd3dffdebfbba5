import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A real loopback server that misbehaves on request, for probe tests.
///
/// It speaks raw bytes rather than a full HTTP stack so that it can also send
/// garbage, hang, reset, or stream a huge body. The path picks the behaviour:
/// `/ok`, `/500`, `/hang`, `/huge`, `/garbage`, `/reset`.
final class TargetServer: Sendable {
    let channel: any Channel
    var port: Int { self.channel.localAddress!.port! }

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func start(tls: NIOSSLContext? = nil) async throws -> TargetServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.addHandler(Behaviour())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TargetServer(channel: channel)
    }

    func stop() async {
        try? await self.channel.close()
    }

    static func fixture(_ name: String) -> String {
        Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures")!
    }

    static func tlsContext() throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(self.fixture("server.pem")).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: self.fixture("server.key"), format: .pem)))
        return try NIOSSLContext(configuration: configuration)
    }

    final class Behaviour: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        // Only touched on the channel's event loop.
        private var request = ""
        private var answered = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = self.unwrapInboundIn(data)
            self.request += buffer.readString(length: buffer.readableBytes) ?? ""
            guard !self.answered, self.request.contains("\r\n\r\n") else { return }
            self.answered = true
            let path = self.request.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            self.respond(path: path, context: context)
        }

        func respond(path: String, context: ChannelHandlerContext) {
            switch path {
            case "/ok":
                let body = #"{"status":"ok","capacity":0.6,"load":{"capacity":"40%"}}"#
                self.send(context, "HTTP/1.1 200 OK\r\nX-Capacity: 70%\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            case "/chunked":
                self.send(context, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\n{\"capac\r\n10\r\nity\": 0.25, \"ok\"\r\n4\r\n: 1}\r\n0\r\n\r\n")
            case "/host":
                // Echoes the Host header it received.
                let host = self.request.split(separator: "\r\n").first { $0.lowercased().hasPrefix("host:") }.map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) } ?? ""
                self.send(context, "HTTP/1.1 200 OK\r\nContent-Length: \(host.utf8.count)\r\nConnection: close\r\n\r\n\(host)")
            case "/500":
                self.send(context, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerror")
            case "/hang":
                break  // never answer
            case "/huge":
                // 1 MiB of filler (16 times what a probe reads), then the word the check
                // looks for. It was 8 MiB; with the tests now run for both ways of probing,
                // 32 MiB from the test process's loops under ThreadSanitizer held up the
                // other suites' targets.
                let total = 1024 * 1024
                context.write(self.wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: \(total + 6)\r\nConnection: close\r\n\r\n")), promise: nil)
                let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
                for _ in 0..<(total / chunk.readableBytes) {
                    context.write(self.wrapOutboundOut(chunk), promise: nil)
                }
                self.send(context, "needle")
            case "/keep":
                // Answers and keeps the connection open: the probe closes first.
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), promise: nil)
            case "/garbage":
                self.send(context, "\u{01}\u{02}NOT HTTP AT ALL\r\n\r\n\u{ff}")
            case "/reset":
                // SO_LINGER 0 turns close into a TCP reset.
                let linger = linger(l_onoff: 1, l_linger: 0)
                let channel = context.channel
                (channel as? any SocketOptionProvider)?.unsafeSetSocketOption(level: .socket, name: .so_linger, value: linger)
                    .whenComplete { _ in channel.close(promise: nil) }
            default:
                self.send(context, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            }
        }

        func send(_ context: ChannelHandlerContext, _ text: String) {
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}
