import Foundation

/// Waiting for a process that is not our child (a daemonised HAProxy, a probe's grandchild).
public enum ProcessExit {
    /// Blocks until process `pid` has terminated (true), or `milliseconds` pass (false),
    /// on a pidfd, which becomes readable when the process ends. A pid that is already gone
    /// counts as terminated. Blocking: call it off the cooperative pool.
    public static func wait(_ pid: Int32, milliseconds: Int32) -> Bool {
        // glibc (2.36+) has pidfd_open(2), but Swift's Glibc module does not import its header.
        typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
        guard let symbol = dlsym(nil, "pidfd_open") else { return false }
        let fd = unsafeBitCast(symbol, to: PidfdOpen.self)(pid, 0)
        guard fd >= 0 else { return errno == ESRCH }
        defer { close(fd) }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&entry, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    /// The state letter from /proc/PID/stat (R, S, Z, ...), or nil once the process is gone.
    /// The command name in field 2 is in parentheses and may hold spaces: read after the last ')'.
    public static func state(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }
}
