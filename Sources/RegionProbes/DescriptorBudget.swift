import Foundation
import Synchronization

/// How many file descriptors probes may hold at once.
///
/// Probing must never take the descriptors that the control socket, the state database
/// and the journal need: with `ulimit -n 64` and a hundred endpoints, an unbounded
/// prober would leave `regionctl` unable to connect. A probe that finds the budget spent
/// fails at once as `local` (regiond's own shortage, no evidence against the region).
public final class DescriptorBudget: Sendable {
    /// Descriptors kept back for everything that is not a probe.
    public static let reserve = 32
    /// Probes may hold this many descriptors at once.
    public let limit: Int
    private let used = Atomic<Int>(0)

    /// A budget of `limit` descriptors.
    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The budget left by the process's descriptor limit (`RLIMIT_NOFILE`), the
    /// descriptors open now, and ``reserve``.
    public static func fromLimits() -> DescriptorBudget {
        var limits = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits)
        let soft = limits.rlim_cur == rlim_t.max ? Int.max / 2 : Int(clamping: limits.rlim_cur)
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 16
        return DescriptorBudget(limit: soft - open - Self.reserve)
    }

    /// Raises the soft descriptor limit to the hard one, as daemons that hold many
    /// sockets do; returns the soft limit in force afterwards.
    @discardableResult
    public static func raiseSoftLimit() -> Int {
        var limits = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limits)
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limits = raised }
        }
        return limits.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limits.rlim_cur)
    }

    /// Takes `count` descriptors from the budget, or returns false when too few are left.
    public func acquire(_ count: Int) -> Bool {
        var current = self.used.load(ordering: .relaxed)
        while current + count <= self.limit {
            let (exchanged, original) = self.used.compareExchange(expected: current, desired: current + count, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    public func release(_ count: Int) {
        self.used.subtract(count, ordering: .acquiringAndReleasing)
    }

    /// Descriptors probes hold now.
    public var inUse: Int { self.used.load(ordering: .relaxed) }
}
