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

    /// One line per region; in cluster mode a FLEET column (the quorum's status, and how
    /// many observers see the region failing) beside this instance's own STATUS.
    static func regionTable(_ regions: [RegionBrief], fleet: [String: FleetRegion]? = nil) {
        var header = ["REGION", "STATUS", "SINCE", "PRIO", "WEIGHT", "UP", "ERRORS", "P95", "CAPACITY", "REASON"]
        if fleet != nil { header.insert("FLEET", at: 2) }
        var rows = [header]
        for r in regions {
            var row = [
                r.id, r.status.rawValue + (r.enabled ? "" : " (disabled)"), r.since.map(Format.age) ?? "-", "\(r.priority)",
                "\(r.weight)", "\(r.endpointsPassing)/\(r.endpoints)", Format.percent(r.errorRate), Format.ms(r.latencyP95Ms),
                Format.percent(r.capacity), r.reason,
            ]
            if let fleet {
                let view = fleet[r.id]
                row.insert(view.map { "\($0.signal.status.rawValue) (\($0.failing.count)/\($0.observers.count) failing)" } ?? "-", at: 2)
            }
            rows.append(row)
        }
        self.table(rows)
    }

    /// The cluster block of `status`: role, leader, etcd, and each observer's freshness.
    static func cluster(_ c: ClusterReport) {
        print("cluster: observer \(c.name), \(c.role.rawValue.uppercased()), leader \(c.leader ?? "none elected"), quorum \(c.quorum), committed revision \(c.committedRevision.map(String.init) ?? "-")")
        if !c.etcdReachable {
            print("ETCD UNREACHABLE: \(c.etcdError ?? "no answer"); the last committed plan is kept and applied, no decision is made")
        }
        let observers = c.observers.map { o in
            "\(o.name) \(formatSeconds(o.age)) ago" + (o.live ? "" : (o.evaluating ? " (STALE)" : " (HELD)"))
        }
        print("observers: \(observers.isEmpty ? "none heard" : observers.joined(separator: ", "))")
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
