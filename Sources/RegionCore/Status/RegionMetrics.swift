import FoundationEssentials

/// Where a region's capacity figure comes from.
public enum CapacitySource: String, Sendable, Codable {
    /// Endpoints report it (`capacity_header`, `capacity_json`, exec output); failing ones count 0.
    case reported
    /// No endpoint reports one: the share of endpoints whose latest probe passed.
    case passingEndpoints = "passing_endpoints"
}

/// One latency in the window; `atLeast`: a timeout, so the probe took more than `ms`.
struct LatencySample: Comparable {
    var ms: Double
    var atLeast: Bool

    static func < (a: LatencySample, b: LatencySample) -> Bool {
        (a.ms, a.atLeast ? 1 : 0) < (b.ms, b.atLeast ? 1 : 0)
    }
}

/// What a region's sliding window says at one moment.
public struct RegionMetrics: Sendable, Equatable, Codable {
    /// Probe results inside the window.
    public var samples: Int
    /// Failed probe results inside the window.
    public var failures: Int
    /// failures / samples (0 when there are no samples).
    public var errorRate: Double
    /// Latency percentiles in the window, in milliseconds: passing probes at what they
    /// took, timed-out ones at their timeout as a lower bound (see `latencyAtLeast`).
    public var latencyP50Ms: Double?
    public var latencyP95Ms: Double?
    public var latencyP99Ms: Double?
    /// The percentiles that fell on a timed-out probe: the latency was more than the figure.
    public var latencyAtLeast: [LatencyPercentile]? = nil
    /// 0...1: reported capacity of passing endpoints (failing ones count 0), or
    /// the share of passing endpoints where none reports a capacity.
    public var capacity: Double?
    /// Where `capacity` came from.
    public var capacitySource: CapacitySource? = nil
    /// Replication lag in seconds: the largest that an endpoint whose latest probe passed
    /// reports (`lag_header`, `lag_json`, exec line 2); nil when none reports one.
    public var lag: Double? = nil
    /// Endpoints whose latest probe passed, and endpoints that have a result.
    public var endpointsPassing: Int
    public var endpointsReporting: Int
    /// By name, the endpoints whose latest probe passed and failed; set only for a region
    /// with an ``EndpointRequirement``.
    public var passingEndpoints: [String]? = nil
    public var failingEndpoints: [FailingEndpoint]? = nil
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

    /// Whether the latency at `percentile` is above `threshold`. A figure from a timed-out
    /// probe means "more than this", so it is above any threshold it reaches.
    public func latency(_ percentile: LatencyPercentile, isAbove threshold: Duration) -> Bool {
        guard let ms = self.latencyMs(percentile) else { return false }
        return ms > threshold.milliseconds || (self.latencyAtLeast?.contains(percentile) == true && ms >= threshold.milliseconds)
    }

    /// "412 ms", or "over 5000 ms" when the figure is a timeout.
    public func latencyText(_ percentile: LatencyPercentile) -> String? {
        guard let ms = self.latencyMs(percentile) else { return nil }
        return self.latencyAtLeast?.contains(percentile) == true ? "over \(formatMs(ms)) (timed out)" : formatMs(ms)
    }

    /// "50% (1 of 2 endpoints passing)" or "50% (reported)".
    public var capacityText: String? {
        guard let capacity else { return nil }
        switch self.capacitySource {
        case .reported?: return "\(percent(capacity)) (reported)"
        case .passingEndpoints?: return "\(percent(capacity)) (\(self.endpointsPassing) of \(self.endpointsReporting) endpoints passing)"
        case nil: return percent(capacity)
        }
    }

    public func latencyMs(_ percentile: LatencyPercentile) -> Double? {
        switch percentile {
        case .p50: self.latencyP50Ms
        case .p95: self.latencyP95Ms
        case .p99: self.latencyP99Ms
        }
    }
}
