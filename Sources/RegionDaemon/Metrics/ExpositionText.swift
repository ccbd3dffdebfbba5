import Foundation

/// The Prometheus text format (0.0.4) for the series read at scrape time.
///
/// Written by hand, not through a swift-prometheus registry: building a fresh registry
/// of about 15,000 series (1,000 endpoints) on every scrape took seconds of CPU, which
/// `make bench` showed as 559 against 300 µs of CPU per probe with a scrape every 5 s
/// (2026-11-25). Here each series is one append. The long-lived counters and histograms
/// stay in swift-prometheus (``DaemonMetrics``).
struct ExpositionText {
    enum Kind: String { case gauge, counter }

    /// Each family's HELP and TYPE lines and its samples so far, in the order first seen.
    /// Bytes, not a `String` per line: at 10,000 endpoints a scrape is about 100,000 lines,
    /// and with a string each RSS grew with every scrape, from 91 to 109 MB over three
    /// (docs/performance.md, the fourth pass).
    private var families: [[UInt8]] = []
    private var index: [String: Int] = [:]

    init() {}

    /// One sample of family `name`; the family's HELP and TYPE come once, before its first sample.
    mutating func add(_ name: String, _ kind: Kind, _ help: String, _ labels: [(String, String)], _ value: Double) {
        let family: Int
        if let known = self.index[name] {
            family = known
        } else {
            family = self.families.count
            self.index[name] = family
            self.families.append(Array("# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n".utf8))
        }
        Self.write(name, labels, value, into: &self.families[family])
    }

    /// `name{key="value",...} value` and a newline.
    private static func write(_ name: String, _ labels: [(String, String)], _ value: Double, into out: inout [UInt8]) {
        out.append(contentsOf: name.utf8)
        if !labels.isEmpty {
            out.append(UInt8(ascii: "{"))
            for (n, label) in labels.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: label.0.utf8)
                out.append(contentsOf: "=\"".utf8)
                Self.escapeLabel(label.1, into: &out)
                out.append(UInt8(ascii: "\""))
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: Self.format(value).utf8)
        out.append(UInt8(ascii: "\n"))
    }

    /// Every family, its samples together (the format wants them so).
    var text: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(self.families.reduce(0) { $0 + $1.count })
        for family in self.families { out.append(contentsOf: family) }
        return out
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A label value as the format quotes it: backslash, double quote and newline escaped
    /// (all ASCII, so escaping UTF-8 byte by byte leaves other characters whole).
    static func escapeLabel(_ text: String, into out: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: "\\n".utf8)
            default: out.append(byte)
            }
        }
    }

    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
