import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RegionCore
import RegionProbes
import RegionTestSupport

/// Bytes a probed HTTP endpoint answers, sent over a real loopback connection to a probe
/// loop's raw socket (``ProbeLoop``), the way regiond probes an IP address: its reads,
/// short reads, end of stream and close must give the outcome the framing gives on the
/// same bytes replayed without a socket (``ResponseReplay``). The server here reads the
/// whole request, writes the answer in the chunks the first byte sets, then closes.
enum ProbeSocketHarness {
    static func run(_ input: [UInt8]) -> String? {
        let chunks = ProbeAnswerHarness.chunks(input)
        guard let server = AnswerServer.shared else { return "cannot listen on 127.0.0.1 for the probe-socket target" }
        server.answer.withLockedValue { $0 = chunks }
        for method in ["GET", "HEAD"] {
            var check = ProbeAnswerHarness.check
            check.method = method
            check.url = "http://127.0.0.1:\(server.port)/healthz"
            let endpoint = EndpointConfig(name: "fuzz", check: .http(check), timeout: .seconds(10), maxBodyBytes: ProbeAnswerHarness.maxBody)
            // Waits on the loop's future from this thread: no task, so no cooperative
            // thread is held while the corpus replay runs other targets beside it.
            guard let loop = ProbeLoopGroup.shared?.loops.first else { return "no probe loop" }
            let ours = (try? prober.start(prober.prepare(endpoint), on: loop).wait())?.outcome ?? .fail(.other, "probe ended without a result")
            let replayed = ResponseReplay.outcome(of: chunks, check: check, maxBody: ProbeAnswerHarness.maxBody)
            if ours.failure != replayed.failure || ours.capacity != replayed.capacity || (ours.passed && ours.detail != replayed.detail) {
                return "\(method): over a socket the probe says \(ours), on the same bytes replayed it says \(replayed)"
            }
        }
        return nil
    }

    static let prober = Prober()

    /// A blocking loopback server on a thread of its own, answering one connection at a time.
    final class AnswerServer: Sendable {
        let port: Int
        let answer = NIOLockedValueBox<[[UInt8]]>([])
        private let listener: Int32

        static let shared: AnswerServer? = AnswerServer()

        private init?() {
            guard let socket = LoopbackSocket.bind() else { return nil }
            guard listen(socket.fd, 16) == 0 else {
                close(socket.fd)
                return nil
            }
            self.listener = socket.fd
            self.port = socket.port
            Thread { [self] in self.serve() }.start()
        }

        private func serve() {
            var request = [UInt8](repeating: 0, count: 4096)
            while true {
                let connection = accept(self.listener, nil, nil)
                guard connection >= 0 else { continue }
                var one: Int32 = 1
                _ = setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                // The whole request first: closing with it unread would reset the connection.
                var seen: [UInt8] = []
                while !seen.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)) {
                    let count = recv(connection, &request, request.count, 0)
                    guard count > 0 else { break }
                    seen += request[0..<count]
                }
                for chunk in self.answer.withLockedValue({ $0 }) {
                    guard chunk.withUnsafeBytes({ send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == chunk.count else { break }
                }
                close(connection)
            }
        }
    }
}
