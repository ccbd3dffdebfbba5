/// Durations as people write them: `"250ms"`, `"2s"`, `"1.5s"`, `"1m30s"`, `"1h"`.
///
/// Every duration that comes from outside (the config file, the control socket) is
/// read here: in whole milliseconds, with checked arithmetic, and never longer than
/// ``maximum``. Nothing downstream can then overflow converting or adding it.
public enum DurationText {
    /// The longest duration regiond reads anywhere: 10 years (87600h).
    public static let maximum: Duration = .seconds(315_360_000)
    static let maximumMilliseconds: Int64 = 315_360_000_000

    /// Why a text is not a duration.
    public enum Failure: Error, Equatable, Sendable {
        /// Not numbers with units such as `"1m30s"`.
        case malformed
        /// A duration, but longer than ``DurationText/maximum``.
        case tooLong
    }

    /// Reads `text`: one or more `NUMBER UNIT` parts (units `ms`, `s`, `m`, `h`; the
    /// number may have a fraction), without spaces between parts.
    public static func parse(_ text: String) -> Result<Duration, Failure> {
        var totalMilliseconds: Int64 = 0
        var number = ""
        var unit = ""
        var parts = 0
        func flush() -> Failure? {
            guard !number.isEmpty, number.utf8.count <= 32, let value = Double(number), value.isFinite, value >= 0 else { return .malformed }
            let scale: Double
            switch unit {
            case "ms": scale = 1
            case "s": scale = 1000
            case "m": scale = 60_000
            case "h": scale = 3_600_000
            default: return .malformed
            }
            let milliseconds = (value * scale).rounded()
            guard milliseconds <= Double(Self.maximumMilliseconds) else { return .tooLong }
            let (sum, overflow) = totalMilliseconds.addingReportingOverflow(Int64(milliseconds))
            guard !overflow, sum <= Self.maximumMilliseconds else { return .tooLong }
            totalMilliseconds = sum
            number = ""
            unit = ""
            parts += 1
            return nil
        }
        let trimmed = text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        for scalar in String(trimmed).unicodeScalars {
            switch scalar {
            case "0"..."9", ".":
                if !unit.isEmpty, let failure = flush() { return .failure(failure) }
                number.unicodeScalars.append(scalar)
            case "a"..."z":
                guard !number.isEmpty, unit.utf8.count < 2 else { return .failure(.malformed) }
                unit.unicodeScalars.append(scalar)
            default:
                return .failure(.malformed)
            }
        }
        if !number.isEmpty || !unit.isEmpty, let failure = flush() { return .failure(failure) }
        guard parts > 0 else { return .failure(.malformed) }
        return .success(.milliseconds(totalMilliseconds))
    }

    /// The message for a text that is not a duration in `range`, naming `field`.
    public static func problem(_ field: String, _ text: String, _ failure: Failure, range: ClosedRange<Duration>) -> String {
        switch failure {
        case .malformed: "\(field) '\(text)' is not a duration; write it like \"500ms\", \"2s\", \"1m30s\" or \"1h\""
        case .tooLong: "\(field) '\(text)' is out of range; use \(formatDuration(range.lowerBound)) to \(formatDuration(range.upperBound))"
        }
    }

    /// Reads `text` as a duration within `range`, or says why not, naming `field`.
    public static func parse(_ text: String, field: String, in range: ClosedRange<Duration>) -> Result<Duration, ControlError> {
        switch self.parse(text) {
        case .failure(let failure):
            return .failure(ControlError(.badRequest, self.problem(field, text, failure, range: range)))
        case .success(let value) where !range.contains(value):
            return .failure(ControlError(.badRequest, self.problem(field, text, .tooLong, range: range)))
        case .success(let value):
            return .success(value)
        }
    }
}

/// Parses a duration (see ``DurationText``); nil when it is malformed or too long.
public func parseDuration(_ text: String) -> Duration? {
    try? DurationText.parse(text).get()
}

/// Writes a duration the way the config accepts it back (`250ms`, `2s`, `1m`, `1h`).
public func formatDuration(_ d: Duration) -> String {
    let (seconds, attoseconds) = d.components
    let millisecondPart = attoseconds / 1_000_000_000_000_000
    if seconds < 1 || millisecondPart != 0 {
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return "\(seconds)s" }
        return "\(scaled + millisecondPart)ms"
    }
    if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
    if seconds % 60 == 0 { return "\(seconds / 60)m" }
    return "\(seconds)s"
}
