/// Percentiles, one definition for all of regiond: window latencies, probe lateness,
/// analytics and the benchmarks.
///
/// Nearest rank: the smallest value such that at least `p` of the values are at or
/// below it. It is always one of the values (no interpolation), so a p99 of latencies
/// is a latency that a probe really had.
public enum Percentile {
    /// The `p` (0...1) percentile of `sorted` (ascending); nil when empty.
    public static func nearestRank<Value>(_ sorted: [Value], _ p: Double) -> Value? {
        guard !sorted.isEmpty, p.isFinite else { return nil }
        let rank = Int((min(max(p, 0), 1) * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// Sorts `values`, then as ``nearestRank(_:_:)``.
    public static func of(_ values: [Double], _ p: Double) -> Double? {
        self.nearestRank(values.sorted(), p)
    }
}
