/// How an endpoint's probes ended since regiond started: passed, or failed by class.
/// Kept by the region's monitor (one increment per probe, no lock) and read by
/// `regionctl region` and the metrics.
public struct ProbeTally: Sendable, Codable, Equatable {
    public var passed: UInt64 = 0
    /// Failures by class (`ProbeFailure` raw values).
    public var failed: [String: UInt64] = [:]
    /// Results left out of the window (regiond's own trouble), also counted above.
    public var notCounted: UInt64 = 0

    public init() {}

    public mutating func record(_ result: ProbeResult) {
        if let failure = result.failure {
            self.failed[failure.rawValue, default: 0] &+= 1
        } else {
            self.passed &+= 1
        }
        if result.notCounted != nil { self.notCounted &+= 1 }
    }
}
