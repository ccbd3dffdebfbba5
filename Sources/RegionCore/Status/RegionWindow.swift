import Foundation

/// What a region's sliding window says at one moment.
public struct RegionMetrics: Sendable, Equatable, Codable {
    /// Probe results inside the window.
    public var samples: Int
    /// Failed probe results inside the window.
    public var failures: Int
    /// failures / samples (0 when there are no samples).
    public var errorRate: Double
    /// Latency percentiles of passing probes in the window, in milliseconds.
    public var latencyP50Ms: Double?
    public var latencyP95Ms: Double?
    public var latencyP99Ms: Double?
    /// 0...1: reported capacity of passing endpoints (failing ones count 0), or
    /// the share of passing endpoints where none reports a capacity.
    public var capacity: Double?
    /// Endpoints whose latest probe passed, and endpoints that have a result.
    public var endpointsPassing: Int
    public var endpointsReporting: Int
    /// The last time any endpoint of the region passed a probe.
    public var lastSuccessAt: Date?
    /// The last time a probe of the region failed (results regiond discounted are not in the window).
    public var lastFailureAt: Date? = nil
    /// The length of the window, in seconds.
    public var windowSeconds: Double

    /// How long no probe has succeeded, when that is evidence: a failure came after the
    /// last success. Probes regiond did not count (it was starved) prove nothing, so
    /// silence alone, with no failure since the last success, is not "no success".
    public func silence(now: Date) -> Double? {
        guard let failed = self.lastFailureAt else { return nil }
        guard let succeeded = self.lastSuccessAt else { return .infinity }
        guard failed > succeeded else { return nil }
        return now.timeIntervalSince(succeeded)
    }

    /// Metrics of a window that has seen nothing yet.
    public static func empty(windowSeconds: Double) -> RegionMetrics {
        RegionMetrics(
            samples: 0, failures: 0, errorRate: 0, latencyP50Ms: nil, latencyP95Ms: nil, latencyP99Ms: nil, capacity: nil,
            endpointsPassing: 0, endpointsReporting: 0, lastSuccessAt: nil, windowSeconds: windowSeconds)
    }

    /// Share of endpoints whose latest probe passed.
    public var availability: Double? {
        self.endpointsReporting == 0 ? nil : Double(self.endpointsPassing) / Double(self.endpointsReporting)
    }

    public func latencyMs(_ percentile: LatencyPercentile) -> Double? {
        switch percentile {
        case .p50: self.latencyP50Ms
        case .p95: self.latencyP95Ms
        case .p99: self.latencyP99Ms
        }
    }
}

/// A sliding window of probe results for one region.
///
/// A pure value: it is given each result and the current time, and never reads
/// a clock. Memory is bounded by the window length times the probe rate.
public struct RegionWindow: Sendable {
    struct Sample: Sendable {
        var at: Date
        var passed: Bool
        var latencyMs: Double
    }

    struct Latest: Sendable {
        var passed: Bool
        var capacity: Double?
        var at: Date
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
        let sample = Sample(at: result.finishedAt, passed: result.passed, latencyMs: result.latencyMs)
        // Results arrive in finishing order almost always; keep the array sorted anyway.
        if let last = self.samples.last, last.at > sample.at {
            let index = self.samples[self.head...].lastIndex(where: { $0.at <= sample.at }).map { $0 + 1 } ?? self.head
            self.samples.insert(sample, at: index)
        } else {
            self.samples.append(sample)
        }
        if let previous = self.latest[result.endpoint], previous.at > result.finishedAt {
            // An older result finishing late does not replace a newer one.
        } else {
            self.latest[result.endpoint] = Latest(passed: result.passed, capacity: result.capacity, at: result.finishedAt)
        }
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

    /// The metrics of the window at `now` (prunes first).
    public mutating func metrics(now: Date) -> RegionMetrics {
        self.prune(now: now)
        let live = self.samples[self.head...]
        let failures = live.reduce(0) { $0 + ($1.passed ? 0 : 1) }
        var latencies = live.compactMap { $0.passed ? $0.latencyMs : nil }
        latencies.sort()
        let passing = self.latest.values.filter(\.passed).count
        let reporting = self.latest.count
        let capacity: Double?
        if reporting == 0 {
            capacity = nil
        } else if self.latest.values.contains(where: { $0.capacity != nil }) {
            let total = self.latest.values.reduce(0.0) { $0 + ($1.passed ? ($1.capacity ?? 1.0) : 0) }
            capacity = total / Double(reporting)
        } else {
            capacity = Double(passing) / Double(reporting)
        }
        return RegionMetrics(
            samples: live.count,
            failures: failures,
            errorRate: live.isEmpty ? 0 : Double(failures) / Double(live.count),
            latencyP50Ms: Percentile.nearestRank(latencies, 0.50),
            latencyP95Ms: Percentile.nearestRank(latencies, 0.95),
            latencyP99Ms: Percentile.nearestRank(latencies, 0.99),
            capacity: capacity,
            endpointsPassing: passing,
            endpointsReporting: reporting,
            lastSuccessAt: self.lastSuccess,
            lastFailureAt: self.lastFailure,
            windowSeconds: self.length.seconds
        )
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
