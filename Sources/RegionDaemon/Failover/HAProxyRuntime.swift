import Foundation
import NIOPosix
import RegionCore

/// A client of HAProxy's runtime API on its Unix socket (`stats socket PATH level admin`).
///
/// One exchange per call: connect, send the command line (several commands may be
/// joined with `;`), read until HAProxy closes the connection. The socket calls block,
/// so they run on NIO's thread pool, bounded by `timeout` (SO_SNDTIMEO/SO_RCVTIMEO).
public struct HAProxyRuntime: Sendable {
    public let socket: String
    public let timeout: Duration

    public init(socket: String, timeout: Duration) {
        self.socket = socket
        self.timeout = timeout
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Sends `command` and returns HAProxy's whole answer.
    public func send(_ command: String) async throws -> String {
        let path = self.socket
        let timeout = self.timeout
        return try await NIOThreadPool.singleton.runIfActive { try Self.exchange(path: path, command: command, timeout: timeout) }
    }

    /// Applies `commands` (joined with `;`) and fails with HAProxy's words if any of them was refused:
    /// HAProxy answers a successful `set weight` with an empty line and a refused one with a reason.
    public func apply(_ commands: String) async throws {
        let answer = try await self.send(commands)
        let complaints = HAProxyAnswer.complaints(answer)
        if !complaints.isEmpty {
            throw Failure(description: "HAProxy at \(self.socket) refused '\(commands)': \(complaints.joined(separator: "; "))")
        }
    }

    static func exchange(path: String, command: String, timeout: Duration) throws -> String {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw Failure(description: "socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to HAProxy at \(path): \(String(cString: strerror(errno)))") }
        let line = Array((command + "\n").utf8)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "cannot write to HAProxy at \(path): \(String(cString: strerror(errno)))") }
            sent += n
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw Failure(description: "no answer from HAProxy at \(path) within \(formatDuration(timeout)): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            answer.append(contentsOf: buffer[..<n])
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
