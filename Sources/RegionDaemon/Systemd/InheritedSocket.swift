import CSystemd
import Foundation

/// The control socket when systemd holds it (`regiond.socket`, socket activation).
///
/// systemd passes the sockets of the service's socket units as descriptors 3, 4, ...
/// (`LISTEN_FDS`, `LISTEN_FDNAMES`). regiond takes the one named `control`
/// (`FileDescriptorName=control`) if it is a listening Unix stream socket. Serving on it
/// means a restart loses no client: connections wait in systemd's socket until the new
/// regiond accepts them. Without one, regiond binds the path itself, as before.
public struct InheritedSocket: Sendable, Equatable {
    /// The descriptor to serve on.
    public let descriptor: Int32
    /// The path it is bound to, as the kernel reports it.
    public let path: String

    /// The name regiond looks for in `LISTEN_FDNAMES`.
    public static let controlName = "control"

    /// Takes the control socket out of what systemd passed (and clears `LISTEN_*`, so
    /// exec probes and hooks do not inherit the claim). Sockets regiond does not use
    /// are closed, so a stray one cannot keep a port or path busy.
    public static func takeControlSocket() -> InheritedSocket? {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return nil }
        defer {
            for i in 0..<Int(count) { free(names?[i]) }
            free(names)
        }
        var found: InheritedSocket?
        for i in 0..<count {
            let fd = SD_LISTEN_FDS_START + i
            let name = names?[Int(i)].map { String(cString: $0) } ?? ""
            if found == nil, name == Self.controlName, sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 {
                found = InheritedSocket(descriptor: fd, path: Self.boundPath(fd) ?? "")
            } else {
                close(fd)
            }
        }
        return found
    }

    /// The path of a bound Unix socket.
    static func boundPath(_ fd: Int32) -> String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        return withUnsafeBytes(of: address.sun_path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
