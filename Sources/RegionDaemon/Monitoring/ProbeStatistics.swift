import NIOConcurrencyHelpers
import RegionCore
import Synchronization

/// Counters shared by every probe loop: how many probes ran, how many were left out of
/// their window, and how late they started.
///
/// Written from many tasks at once, so it uses a lock and atomics rather than an
/// actor hop per probe. The lock is NIO's (a pthread mutex), not `Synchronization.Mutex`:
/// ThreadSanitizer sees its ordering and checks what it guards, where it reports every
/// access inside `Mutex.withLock` as a race (docs/reliability.md). Lateness keeps the most recent 8192 values for percentiles,
/// and the values since the schedule watch last looked (at most 16384).
public final class ProbeStatistics: Sendable {
    private let runs = Atomic<UInt64>(0)
    private let discounted = Atomic<UInt64>(0)
    private let lateness = NIOLockedValueBox<Lateness>(Lateness(capacity: 8192))

    struct Lateness {
        var values: [Double]
        var next = 0
        let capacity: Int
        /// Since the last `drainPeriod()`.
        var period: [Double] = []

        init(capacity: Int) {
            self.capacity = capacity
            self.values = []
            self.values.reserveCapacity(capacity)
        }

        mutating func add(_ value: Double) {
            if self.values.count < self.capacity {
                self.values.append(value)
            } else {
                self.values[self.next] = value
            }
            self.next = (self.next + 1) % self.capacity
            if self.period.count < 16_384 { self.period.append(value) }
        }
    }

    /// Where the lateness histogram of the metrics is kept, if metrics are on.
    let metrics: DaemonMetrics?

    public init(metrics: DaemonMetrics? = nil) {
        self.metrics = metrics
    }

    /// One probe ended; `counted` is false when its result was left out of the window.
    public func record(latenessMs: Double, counted: Bool = true) {
        self.runs.add(1, ordering: .relaxed)
        if !counted { self.discounted.add(1, ordering: .relaxed) }
        self.lateness.withLockedValue { $0.add(latenessMs) }
        self.metrics?.probeStarted(latenessMs: latenessMs)
    }

    public var probesRun: UInt64 { self.runs.load(ordering: .relaxed) }
    /// Probes whose result said nothing about the region (regiond starved or short of descriptors).
    public var probesNotCounted: UInt64 { self.discounted.load(ordering: .relaxed) }

    /// Percentile (0...1) of recent lateness, in milliseconds.
    public func latenessPercentile(_ p: Double) -> Double? {
        Percentile.of(self.lateness.withLockedValue { $0.values }, p)
    }

    /// The lateness values recorded since the last call (for the schedule watch).
    public func drainPeriod() -> [Double] {
        self.lateness.withLockedValue { state in
            defer { state.period.removeAll(keepingCapacity: true) }
            return state.period
        }
    }
}
