import RegionCore
import Synchronization

/// Counters shared by every probe loop: how many probes ran, and how late they started.
///
/// Written from many tasks at once, so it uses a `Mutex` and atomics rather than an
/// actor hop per probe. Lateness keeps the most recent 8192 values for percentiles.
public final class ProbeStatistics: Sendable {
    private let runs = Atomic<UInt64>(0)
    private let lateness = Mutex<Ring>(Ring(capacity: 8192))

    struct Ring {
        var values: [Double]
        var next = 0
        let capacity: Int

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
        }
    }

    public init() {}

    public func record(latenessMs: Double) {
        self.runs.add(1, ordering: .relaxed)
        self.lateness.withLock { $0.add(latenessMs) }
    }

    public var probesRun: UInt64 { self.runs.load(ordering: .relaxed) }

    /// Percentile (0...1) of recent lateness, in milliseconds.
    public func latenessPercentile(_ p: Double) -> Double? {
        Percentile.of(self.lateness.withLock { $0.values }, p)
    }
}
