import FoundationEssentials
import Glibc
import RegionCore

extension Format {
    static func time(_ date: Date?) -> String {
        guard let date else { return "-" }
        let seconds = self.clampedSeconds(date.timeIntervalSinceNow.rounded())
        let iso = date.formatted(Date.ISO8601FormatStyle())
        return seconds >= 0 ? "\(iso) (in \(seconds)s)" : "\(iso) (\(-seconds)s ago)"
    }

    /// `drain ends 2026-12-08T03:00:00Z (in 3600s)`, or `drain begins ...` while it is scheduled.
    static func maintenance(_ m: Maintenance) -> String {
        guard m.begun else { return "\(m.action.rawValue) begins \(Format.time(m.start))" + (m.end.map { ", ends \(Format.time($0))" } ?? "") }
        return "\(m.action.rawValue) ends \(Format.time(m.end))"
    }

    static func traffic(_ t: TrafficReport) {
        print("strategy \(t.strategy), failback \(t.failback), total \(t.total)")
        if let pin = t.pin {
            print("PINNED by uid \(pin.uid) since \(Format.time(pin.since))\(pin.until.map { " until \(Format.time($0))" } ?? ""): \(pin.reason)")
        }
        if t.panic { print("PANIC: traffic that must move has no healthy region to go to; the last plan is kept") }
        if !t.recording { print("STATE DATABASE NOT WRITABLE: automatic decisions are refused (see journalctl -u regiond)") }
        if let targets = t.targets, !targets.isEmpty {
            print("applied to: " + targets.map { $0.ok ? "\($0.name) ok" : "\($0.name) FAILING" }.joined(separator: ", "))
            for target in targets where !target.ok {
                print("  \(target.name.uppercased()) NOT APPLIED since \(Format.time(target.failingSince)): \(target.error ?? "")")
            }
        }
        print("")
        if let role = t.clusterRole {
            print("cluster: this regiond is \(role.uppercased()), leader \(t.leader ?? "none elected"); FLEET is the quorum's status, which decides; LOCAL is this observer's")
        }
        let lags = t.regions.contains { $0.lag != nil }
        let cluster = t.clusterRole != nil
        var rows = [["REGION", "WEIGHT", "BASELINE", "SHARE", "PHASE", "ADMIN", cluster ? "FLEET" : "STATUS"] + (cluster ? ["LOCAL"] : []) + (lags ? ["LAG"] : []) + ["NEXT", "WHY"]]
        for r in t.regions {
            let next =
                r.maintenance.map(Self.maintenance) ?? r.recoveryEnds.map { "fails back \(Format.time($0))" } ?? r.nextStep.map { "step \(Format.time($0))" }
                ?? r.drainUntil.map { "drained by \(Format.time($0))" } ?? "-"
            var why = r.note ?? ""
            if why.isEmpty, let trigger = r.trigger { why = "trigger: \(trigger)" }
            if let cooldown = r.cooldownUntil, cooldown > Date() { why += (why.isEmpty ? "" : "; ") + "cooldown until \(Format.time(cooldown))" }
            // A region that would be a target but is not (its lag, say) says so.
            if r.phase == "serving", r.admin == "enabled", r.status == .healthy, let excluded = r.excluded {
                why += (why.isEmpty ? "" : "; ") + "takes no moved traffic: \(excluded)"
            }
            if let moved = r.movedTo, !moved.isEmpty {
                why += (why.isEmpty ? "" : "; ") + "moved to \(moved.joined(separator: ", "))" + (r.movedRung == .degraded ? " (degraded: best available)" : "")
            }
            if let m = r.maintenance { why += (why.isEmpty ? "" : "; ") + "\(m.action.rawValue) by uid \(m.by): \(m.reason)" }
            if let override = r.residencyOverride { why += (why.isEmpty ? "" : "; ") + "RESIDENCY OVERRIDDEN: \(override)" }
            let lag = lags ? [r.lag.map(formatSeconds) ?? "-"] : []
            let local = cluster ? [r.localStatus?.rawValue ?? "-"] : []
            rows.append([r.region, "\(r.weight)", "\(r.baseline)", Format.percent(r.share), r.phase, r.admin, r.status?.rawValue ?? "-"] + local + lag + [next, why])
        }
        self.table(rows)
    }
}
