import FoundationEssentials
import Glibc
import RegionCore

/// A blocking client for the control socket. regionctl is a short-lived CLI
/// with one request in flight, so plain sockets are the simplest correct tool.
struct ControlClient {
    struct Failure: Error {
        var message: String
        var exitCode: Int32
    }

    private let fd: Int32
    private var buffer: [UInt8] = []

    init(path: String) throws(Failure) {
        guard path.utf8.count <= 103 else { throw Failure(message: "socket path is longer than 103 bytes: \(path)", exitCode: 64) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(message: "socket(): \(String(cString: strerror(errno)))", exitCode: 71) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8) + [0]
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if result != 0 {
            let code = errno
            Glibc.close(fd)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw Failure(message: "cannot connect to regiond at \(path): \(String(cString: strerror(code))). Is regiond running? (set the path with --socket or REGIOND_SOCKET)", exitCode: 69)
            case EACCES, EPERM:
                throw Failure(message: "permission denied on \(path); ask to be added to the socket's group", exitCode: 77)
            default:
                throw Failure(message: "cannot connect to \(path): \(String(cString: strerror(code)))", exitCode: 69)
            }
        }
        self.fd = fd
    }

    func close() {
        Glibc.close(self.fd)
    }

    func send(_ request: ControlRequest) throws(Failure) {
        let data: Data
        do {
            data = try ControlProtocol.encoder().encode(request)
        } catch {
            throw Failure(message: "cannot encode request: \(error)", exitCode: 70)
        }
        var bytes = Array(data)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            // MSG_NOSIGNAL: a regiond that closed the connection (stopping) is EPIPE, a
            // clean error or a retry, not a SIGPIPE that kills regionctl without a word.
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(self.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Failure(message: "lost the connection to regiond: \(String(cString: strerror(errno)))", exitCode: 69)
            }
            offset += written
        }
    }

    /// The next line from the daemon, or nil when it closed the connection.
    mutating func readLine() throws(Failure) -> Data? {
        var scanned = 0
        while true {
            // Only the bytes read since the last look can hold the newline.
            if let newline = self.buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(self.buffer[..<newline])
                self.buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(self.fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(message: "lost the connection to regiond: \(String(cString: strerror(errno)))", exitCode: 69)
            }
            if count == 0 {
                if self.buffer.isEmpty { return nil }
                defer { self.buffer.removeAll() }
                return Data(self.buffer)
            }
            scanned = self.buffer.count
            self.buffer.append(contentsOf: chunk[..<count])
        }
    }
}
