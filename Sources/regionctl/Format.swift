import FoundationEssentials
import Glibc
import RegionCore

/// Tables and figures as regionctl prints them.
enum Format {
    static func percent(_ value: Double?) -> String {
        value.map(RegionCore.percent) ?? "-"
    }

    static func ms(_ value: Double?) -> String {
        value.map(formatMs) ?? "-"
    }

    /// Whole seconds of an interval from the daemon, clamped so that no reply can trap the conversion.
    static func clampedSeconds(_ interval: TimeInterval) -> Int {
        interval.isFinite ? Int(min(max(interval, -1e12), 1e12)) : 0
    }

    static func age(_ date: Date) -> String {
        let s = max(0, self.clampedSeconds(Date().timeIntervalSince(date)))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h\((s % 3600) / 60)m" }
        return "\(s / 86400)d"
    }

    static func regionTable(_ regions: [RegionBrief]) {
        var rows = [["REGION", "STATUS", "SINCE", "PRIO", "WEIGHT", "UP", "ERRORS", "P95", "CAPACITY", "REASON"]]
        for r in regions {
            rows.append([
                r.id, r.status.rawValue + (r.enabled ? "" : " (disabled)"), r.since.map(Format.age) ?? "-", "\(r.priority)",
                "\(r.weight)", "\(r.endpointsPassing)/\(r.endpoints)", Format.percent(r.errorRate), Format.ms(r.latencyP95Ms),
                Format.percent(r.capacity), r.reason,
            ])
        }
        self.table(rows)
    }

    static func table(_ rows: [[String]]) {
        guard let header = rows.first else { return }
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        for row in rows {
            let cells = row.enumerated().map { i, cell in
                // (Foundation's padding(toLength:) goes through NSString: a third of a 1,000-row table's time.)
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[i] - cell.count))
            }
            print(cells.joined(separator: "  "))
        }
    }
}
