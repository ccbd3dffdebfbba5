import Foundation

/// A TCP socket bound to 127.0.0.1 on a port the kernel picked: for servers in tests
/// and the fuzz harness, a port that refuses connections (bound, not listening), or a
/// port to hand to another program.
public enum LoopbackSocket {
    /// The socket and its port; nil with errno set when the kernel refused.
    public static func bind() -> (fd: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            let code = errno
            close(fd)
            errno = code
            return nil
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}
