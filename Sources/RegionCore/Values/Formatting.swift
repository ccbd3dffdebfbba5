import FoundationEssentials

// Numbers for people: in reasons, events, errors and tables. None of them may trap,
// whatever the value (a fraction from a hostile config, a date from a damaged state
// file): an `Int(...)` of a Double that does not fit would end the process.

/// The largest magnitude written as a whole number; beyond it, scientific notation.
let wholeNumberLimit = 1e15

/// `0.1` → `10%`, `0.125` → `12.5%`.
public func percent(_ value: Double) -> String {
    let p = value * 100
    guard p.isFinite, abs(p) < wholeNumberLimit else { return cFormat("%g%%", p) }
    return p == p.rounded() ? "\(Int(p))%" : cFormat("%.1f%%", p)
}

/// `12.3456` → `12 ms`, `1.25` → `1.2 ms`.
public func formatMs(_ ms: Double) -> String {
    guard ms.isFinite, abs(ms) < wholeNumberLimit else { return cFormat("%g ms", ms) }
    return ms >= 10 ? "\(Int(ms.rounded())) ms" : cFormat("%.1f ms", ms)
}

/// `6` → `6 s`, `0.25` → `0.25 s`, `6.0999` → `6.1 s`.
public func formatSeconds(_ s: Double) -> String {
    guard s.isFinite, abs(s) < wholeNumberLimit else { return cFormat("%g s", s) }
    if s == s.rounded() { return "\(Int(s)) s" }
    let text = cFormat(s < 1 ? "%.2f" : "%.1f", s)
    return (text.hasSuffix("0") && text.contains(".") ? String(text.dropLast()) : text) + " s"
}

/// A number rounded toward zero for a message (`Int(x)` would trap on a value that does not fit).
public func wholeNumber(_ s: Double) -> String {
    guard s.isFinite, abs(s) < wholeNumberLimit else { return cFormat("%g", s) }
    return "\(Int(s))"
}

/// Fractions as people write them: `0.75` or `75%`.
public enum FractionText {
    /// `"75%"` → 0.75, `"0.75"` → 0.75 (spaces around are ignored); nil for anything else,
    /// and for values that are not finite. Not clamped: callers check their own range.
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingSpacesAndNewlines
        guard trimmed.utf8.count <= 64 else { return nil }
        let isPercent = trimmed.hasSuffix("%")
        let digits = isPercent ? String(trimmed.dropLast()) : trimmed
        // Only plain decimal numbers: Double("nan"), "inf" and "0x1p-2" are not capacities.
        guard !digits.isEmpty, digits.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ".-+eE".unicodeScalars.contains($0) }),
            let value = Double(digits), value.isFinite
        else { return nil }
        return isPercent ? value / 100 : value
    }
}

/// At most `bytes` bytes of UTF-8 from the start of `text`, cut between scalars: for
/// outside text (a command's output, HAProxy's words, a client's command name) that is
/// repeated in a reason, an event or an error. (`prefix(n)` counts characters, and one
/// character can carry any number of combining scalars.)
public func clip<S: StringProtocol>(_ text: S, bytes: Int) -> String {
    var result = ""
    var used = 0
    for scalar in text.unicodeScalars {
        let size = UTF8.width(scalar)
        guard used + size <= bytes else { break }
        result.unicodeScalars.append(scalar)
        used += size
    }
    return result
}
