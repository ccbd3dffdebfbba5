import CSystemd
import Foundation

/// Speaks the sd_notify protocol through libsystemd.
///
/// Without `NOTIFY_SOCKET` (not started by systemd) every call is a no-op, so
/// the daemon runs the same in a terminal.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Whether a service manager is listening.
    public var isActive: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    public func send(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// `READY=1` with a status line.
    public func ready(status: String) {
        self.send("READY=1\nSTATUS=\(Self.clean(status))")
    }

    public func status(_ text: String) {
        self.send("STATUS=\(Self.clean(text))")
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` that systemd 253+ requires for Type=notify-reload.
    public func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
        self.send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    public func stopping(status: String) {
        self.send("STOPPING=1\nSTATUS=\(Self.clean(status))")
    }

    public func watchdog() {
        self.send("WATCHDOG=1")
    }

    /// The watchdog interval systemd expects pings within, when `WatchdogSec=` is set.
    public func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        // WATCHDOG_USEC comes from the environment: clamp it rather than trap on a huge value.
        return .microseconds(Int64(clamping: min(usec, 86_400_000_000)))
    }

    static func clean(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }
}
