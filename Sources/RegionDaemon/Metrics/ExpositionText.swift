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

    private(set) var bytes: [UInt8] = []
    private var declared: Set<String> = []
    private var families: [String: [String]] = [:]
    private var order: [String] = []

    init() {
        self.bytes.reserveCapacity(1 << 16)
    }

    /// One sample of family `name`; the family's HELP and TYPE come once, before its first sample.
    mutating func add(_ name: String, _ kind: Kind, _ help: String, _ labels: [(String, String)], _ value: Double) {
        if self.families[name] == nil {
            self.families[name] = ["# HELP \(name) \(Self.escapeHelp(help))", "# TYPE \(name) \(kind.rawValue)"]
            self.order.append(name)
        }
        var line = name
        if !labels.isEmpty {
            line += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        line += " " + Self.format(value)
        self.families[name]!.append(line)
    }

    /// Every family, its samples together (the format wants them so).
    var text: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        for name in self.order {
            for line in self.families[name] ?? [] {
                out.append(contentsOf: line.utf8)
                out.append(UInt8(ascii: "\n"))
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    static func escapeLabel(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
