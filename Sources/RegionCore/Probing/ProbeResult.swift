import FoundationEssentials

/// Why a probe failed, in a few stable words that operators can grep for.
public enum ProbeFailure: String, Sendable, Codable, CaseIterable {
    /// No answer within the probe's timeout.
    case timeout
    /// The connection was refused or reset.
    case refused
    /// The host name did not resolve.
    case dns
    /// TLS handshake or certificate verification failed.
    case tls
    /// The HTTP status code was not one of the expected ones.
    case status
    /// The body did not contain the expected text, or could not be read.
    case body
    /// The command could not run, exited non-zero or was killed.
    case exec
    /// Anything else (the message says what).
    case other
    /// regiond itself could not run the probe (out of file descriptors): no evidence
    /// against the region, and left out of its window.
    case local
}

/// The outcome of one probe of one endpoint.
public struct ProbeResult: Sendable, Equatable, Codable {
    public var endpoint: String
    /// When the probe was due to start.
    public var scheduledAt: Date
    /// When it finished.
    public var finishedAt: Date
    /// How long the probe took, in milliseconds.
    public var latencyMs: Double
    /// How late the probe started against its schedule, in milliseconds.
    public var latenessMs: Double
    /// `nil` when the probe passed.
    public var failure: ProbeFailure?
    /// A short human explanation (e.g. "status 503, expected 200").
    public var detail: String
    /// Capacity reported by the endpoint (0...1), when it reports one.
    public var capacity: Double?
    /// Replication lag in seconds reported by the endpoint, when it reports one.
    public var lag: Double? = nil
    /// Set when the result was left out of the region's window, with why (see ``ProbeEvidence``).
    public var notCounted: String?

    public var passed: Bool { self.failure == nil }

    public init(endpoint: String, scheduledAt: Date, finishedAt: Date, latencyMs: Double, latenessMs: Double = 0, failure: ProbeFailure? = nil, detail: String = "", capacity: Double? = nil) {
        self.endpoint = endpoint
        self.scheduledAt = scheduledAt
        self.finishedAt = finishedAt
        self.latencyMs = latencyMs
        self.latenessMs = latenessMs
        self.failure = failure
        self.detail = detail
        self.capacity = capacity
    }
}

/// What a probe itself reports, before the scheduler adds times.
public struct ProbeOutcome: Sendable, Equatable {
    public var failure: ProbeFailure?
    public var detail: String
    public var capacity: Double?
    /// Replication lag in seconds, when the endpoint reports one (`lag_header`, `lag_json`, exec line 2).
    public var lag: Double? = nil

    public var passed: Bool { self.failure == nil }

    public static func pass(_ detail: String = "ok", capacity: Double? = nil, lag: Double? = nil) -> ProbeOutcome {
        ProbeOutcome(failure: nil, detail: detail, capacity: capacity, lag: lag)
    }

    public static func fail(_ failure: ProbeFailure, _ detail: String) -> ProbeOutcome {
        ProbeOutcome(failure: failure, detail: detail, capacity: nil)
    }
}

/// Parses a capacity written as a fraction (`0.75`) or a percentage (`75%`).
/// Values are clamped to 0...1; anything else is `nil`.
public func parseCapacity(_ text: String) -> Double? {
    FractionText.parse(text).map { min(max($0, 0), 1) }
}

/// Parses a replication lag: seconds as a plain number (`12`, `0.5`) or a duration with
/// its unit (`1500ms`, `2m`). Negative, not finite, or over a year: `nil` (unknown).
public func parseLag(_ text: String) -> Double? {
    let trimmed = text.trimmingSpaces
    guard !trimmed.isEmpty, trimmed.utf8.count <= 64 else { return nil }
    let seconds: Double
    if let number = Double(trimmed) {
        seconds = number
    } else if case .success(let duration) = DurationText.parse(trimmed) {
        seconds = duration.seconds
    } else {
        return nil
    }
    guard seconds.isFinite, seconds >= 0, seconds <= 365 * 86_400 else { return nil }
    return seconds
}
