import FoundationEssentials

/// A sliding window of probe results for one region.
///
/// A pure value: it is given each result and the current time, and never reads
/// a clock. Memory is bounded by the window length times the probe rate.
public struct RegionWindow: Sendable {
    struct Sample: Sendable {
        var at: Date
        var passed: Bool
        var latencyMs: Double
        /// Timed out: it took more than `latencyMs`.
        var timedOut: Bool
    }

    struct Latest: Sendable {
        var passed: Bool
        var failure: ProbeFailure?
        var capacity: Double?
        var lag: Double?
        var at: Date

        /// Takes `newer` unless it is older than what is held.
        mutating func replace(with newer: Latest) {
            if newer.at >= self.at { self = newer }
        }
    }

    public var length: Duration
    private var samples: [Sample] = []
    /// Index of the oldest live sample; the array is compacted lazily.
    private var head = 0
    private var latest: [String: Latest] = [:]
    private var lastSuccess: Date?
    private var lastFailure: Date?

    public init(length: Duration) {
        self.length = length
    }

    /// Number of samples currently held (for memory accounting and tests).
    public var count: Int { self.samples.count - self.head }

    /// Adds one probe result.
    public mutating func record(_ result: ProbeResult) {
        let sample = Sample(at: result.finishedAt, passed: result.passed, latencyMs: result.latencyMs, timedOut: result.failure == .timeout)
        // Results arrive in finishing order almost always; keep the array sorted anyway.
        if let last = self.samples.last, last.at > sample.at {
            let index = self.samples[self.head...].lastIndex(where: { $0.at <= sample.at }).map { $0 + 1 } ?? self.head
            self.samples.insert(sample, at: index)
        } else {
            self.samples.append(sample)
        }
        // One hash of the name, in place. An older result finishing late does not replace a newer one.
        let fresh = Latest(passed: result.passed, failure: result.failure, capacity: result.capacity, lag: result.lag, at: result.finishedAt)
        self.latest[result.endpoint, default: fresh].replace(with: fresh)
        if result.passed, self.lastSuccess.map({ $0 < result.finishedAt }) ?? true {
            self.lastSuccess = result.finishedAt
        }
        if !result.passed, self.lastFailure.map({ $0 < result.finishedAt }) ?? true {
            self.lastFailure = result.finishedAt
        }
    }

    /// Forgets endpoints that are no longer configured (after a reload).
    public mutating func retainEndpoints(_ names: Set<String>) {
        self.latest = self.latest.filter { names.contains($0.key) }
    }

    /// Drops samples older than the window.
    public mutating func prune(now: Date) {
        let cutoff = now.addingTimeInterval(-self.length.seconds)
        while self.head < self.samples.count, self.samples[self.head].at < cutoff {
            self.head += 1
        }
        if self.head > 1024, self.head * 2 > self.samples.count {
            self.samples.removeFirst(self.head)
            self.head = 0
        }
    }

    /// The metrics of the window at `now` (prunes first). `naming`: also which endpoints
    /// pass and fail by their latest result (for an ``EndpointRequirement``; the pooled
    /// default does without).
    public mutating func metrics(now: Date, naming: Bool = false) -> RegionMetrics {
        self.prune(now: now)
        let live = self.samples[self.head...]
        let failures = live.reduce(0) { $0 + ($1.passed ? 0 : 1) }
        // Latency: every passing probe, and every timed-out one as "more than its timeout"
        // (a region answering in 6 s behind a 5 s timeout is slow, not fast).
        var latencies: [LatencySample] = []
        latencies.reserveCapacity(live.count)
        for sample in live where sample.passed || sample.timedOut {
            latencies.append(LatencySample(ms: sample.latencyMs, atLeast: sample.timedOut))
        }
        latencies.sort()
        let passing = self.latest.values.filter(\.passed).count
        let reporting = self.latest.count
        let capacity: Double?
        var source: CapacitySource?
        if reporting == 0 {
            capacity = nil
        } else if self.latest.values.contains(where: { $0.capacity != nil }) {
            let total = self.latest.values.reduce(0.0) { $0 + ($1.passed ? ($1.capacity ?? 1.0) : 0) }
            capacity = total / Double(reporting)
            source = .reported
        } else {
            capacity = Double(passing) / Double(reporting)
            source = .passingEndpoints
        }
        let lags = self.latest.values.compactMap { $0.passed ? $0.lag : nil }
        var metrics = RegionMetrics(
            samples: live.count,
            failures: failures,
            errorRate: live.isEmpty ? 0 : Double(failures) / Double(live.count),
            latencyP50Ms: nil, latencyP95Ms: nil, latencyP99Ms: nil,
            capacity: capacity,
            endpointsPassing: passing,
            endpointsReporting: reporting,
            lastSuccessAt: self.lastSuccess,
            lastFailureAt: self.lastFailure,
            windowSeconds: self.length.seconds
        )
        metrics.capacitySource = source
        metrics.lag = lags.max()
        if naming {
            metrics.passingEndpoints = self.latest.filter(\.value.passed).map(\.key).sorted()
            metrics.failingEndpoints = self.latest.filter { !$0.value.passed }.map { FailingEndpoint(name: $0.key, failure: $0.value.failure) }.sorted { $0.name < $1.name }
        }
        var atLeast: [LatencyPercentile] = []
        for p in LatencyPercentile.allCases {
            let sample = Percentile.nearestRank(latencies, p.fraction)
            switch p {
            case .p50: metrics.latencyP50Ms = sample?.ms
            case .p95: metrics.latencyP95Ms = sample?.ms
            case .p99: metrics.latencyP99Ms = sample?.ms
            }
            if sample?.atLeast == true { atLeast.append(p) }
        }
        metrics.latencyAtLeast = atLeast.isEmpty ? nil : atLeast
        return metrics
    }

}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, atto) = self.components
        return Double(s) + Double(atto) / 1e18
    }

    /// The duration in milliseconds as a `Double`.
    public var milliseconds: Double { self.seconds * 1000 }
}
