/// The OpenMetrics 1.0 text format, for a scraper that asks for it (`Accept:
/// application/openmetrics-text`, which Prometheus sends by default).
///
/// The samples are the same as in the Prometheus text format; what differs is the
/// metadata: a counter family is named without its `_total` suffix (the samples keep
/// it), a gauge named `..._info` is an `info` family, and the exposition ends with
/// `# EOF`. So the one exposition regiond writes is rewritten here, line by line.
enum OpenMetricsText {
    static let contentType = "application/openmetrics-text; version=1.0.0; charset=utf-8"

    /// Whether an `Accept` header asks for OpenMetrics.
    static func isAsked(byAccept accept: String?) -> Bool {
        accept?.lowercased().contains("application/openmetrics-text") == true
    }

    static func convert(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 64)
        for line in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            if line.first == UInt8(ascii: "#") {
                out.append(contentsOf: Self.metadata(String(decoding: line, as: UTF8.self)).utf8)
            } else {
                out.append(contentsOf: line)
            }
            out.append(UInt8(ascii: "\n"))
        }
        out.append(contentsOf: "# EOF\n".utf8)
        return out
    }

    /// `# HELP name text` and `# TYPE name type`, renamed for OpenMetrics.
    private static func metadata(_ line: String) -> String {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[1] == "HELP" || parts[1] == "TYPE" else { return line }
        let name = String(parts[2])
        var family = name
        var type = parts.count > 3 ? String(parts[3]) : ""
        if parts[1] == "TYPE" {
            if type == "counter", name.hasSuffix("_total") { family = String(name.dropLast(6)) }
            if type == "gauge", name.hasSuffix("_info") {
                family = String(name.dropLast(5))
                type = "info"
            }
            return "# TYPE \(family) \(type)"
        }
        // A HELP line comes before its TYPE, so it is renamed by the name's suffix alone.
        if name.hasSuffix("_total") { family = String(name.dropLast(6)) }
        if name.hasSuffix("_info") { family = String(name.dropLast(5)) }
        return "# HELP \(family)" + (parts.count > 3 ? " \(parts[3])" : "")
    }
}
