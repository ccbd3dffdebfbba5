import ArgumentParser
import FoundationEssentials
import Glibc
import RegionCore

struct Best: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Where new traffic should go now, and why.",
        discussion: "The healthy region the plan gives the most (ties: lower priority number, then config order); every other region says why it is not it. Exits 1 when no region is healthy with traffic.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let report = try self.options.call(ControlRequest(cmd: "best"), as: BestReport.self) else { return }
        print(report.best.map { "best: \($0)" } ?? "best: none")
        print("why: \(report.reason)")
        print("")
        var rows = [["REGION", "WEIGHT", "SHARE", "STATUS", "PRIO", "WHY"]]
        for c in report.candidates {
            rows.append([c.region, "\(c.weight)", Format.percent(c.share), c.status?.rawValue ?? "-", "\(c.priority)", c.why])
        }
        Format.table(rows)
        if report.best == nil { throw ExitCode(1) }
    }
}

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe every endpoint of a region now, out of schedule, and print the results.",
        discussion: """
            The results go into the region's window like any other probe's. Open to anyone who \
            may connect, so rate-limited: once per region every 5 s (exit 75 when refused).
            """)
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region id.") var region: String

    func run() throws {
        guard let report = try self.options.call(ControlRequest(cmd: "probe", region: self.region), as: ProbeReport.self) else { return }
        var rows = [["ENDPOINT", "RESULT", "LATENCY", "CAPACITY", "LAG", "DETAIL"]]
        for r in report.results {
            let detail = r.notCounted.map { "\(r.detail) (not counted: \($0))" } ?? r.detail
            rows.append([r.endpoint, r.failure?.rawValue ?? "pass", Format.ms(r.latencyMs), Format.percent(r.capacity), r.lag.map(formatSeconds) ?? "-", detail])
        }
        Format.table(rows)
        if report.results.contains(where: { !$0.passed }) { throw ExitCode(1) }
    }
}

struct AnalyticsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics",
        abstract: "Failovers per strategy and trigger, success rates, MTTD and MTTR, recoveries, time failed over, time in each status.",
        discussion: "With --region, also that region's share of the plan over the period.")
    @OptionGroup var options: ClientOptions
    @Option(help: ArgumentHelp("Only events since this ISO 8601 time or this long ago (\"24h\").", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Also show this region's plan weight over the period.", valueName: "region")) var region: String?

    func run() throws {
        var request = ControlRequest(cmd: "analytics", region: self.region)
        request.since = self.since
        guard let a = try self.options.call(request, as: AnalyticsReport.self) else { return }
        Self.print(a)
    }

    static func print(_ a: AnalyticsReport) {
        func seconds(_ value: Double?) -> String { value.map { cFormat("%.1f s", $0) } ?? "-" }
        func counts(_ map: [String: Int]) -> String { map.isEmpty ? "none" : map.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
        func durations(_ d: AnalyticsReport.Durations?) -> String {
            guard let d else { return "-" }
            return "mean \(seconds(d.mean)), p95 \(seconds(d.p95)), p50 \(seconds(d.p50)), max \(seconds(d.max)) (\(d.count))"
        }
        Swift.print("failovers: \(a.failovers) (by strategy: \(counts(a.failoversByStrategy)); by trigger: \(counts(a.failoversByTrigger)))")
        if (a.failoversByRung["degraded"] ?? 0) > 0 {
            Swift.print("  onto degraded regions, the best available: \(a.failoversByRung["degraded"] ?? 0) of \(a.failoversByRung.values.reduce(0, +)) automatic")
        }
        Swift.print("blocked: \(a.blocked); success rate: \(Format.percent(a.successRate))")
        if !a.strategies.isEmpty {
            var rows = [["STRATEGY", "COMMITTED", "APPLIED", "BLOCKED", "SUCCESS", "APPLIED/COMMITTED"]]
            for (name, s) in a.strategies.sorted(by: { $0.key < $1.key }) {
                rows.append([name, "\(s.committed)", "\(s.applied)", "\(s.blocked)", Format.percent(s.successRate), Format.percent(s.appliedRate)])
            }
            Format.table(rows)
        }
        Swift.print(
            "recoveries: \(a.failbacks) failed back, \(a.recoveriesFailed) failed again, \(a.recoveriesRestarted) restarted; success \(Format.percent(a.recoverySuccessRate))")
        Swift.print("time to detect (MTTD): \(durations(a.timeToDetect))")
        Swift.print("time to recover (MTTR): \(durations(a.timeToRecover))")
        let failed = a.secondsFailedOver.sorted { $0.key < $1.key }.map { "\($0.key) \(wholeNumber($0.value)) s" }.joined(separator: ", ")
        Swift.print("time failed over: \(failed.isEmpty ? "none" : failed)")
        let time = a.secondsInStatus.sorted { $0.key < $1.key }.map { "\($0.key) \(wholeNumber($0.value)) s" }.joined(separator: ", ")
        Swift.print("time in status (all regions): \(time.isEmpty ? "-" : time)")
        if let plan = a.plan {
            Swift.print("")
            Swift.print("\(plan.region)'s plan weight over the period (average share \(Format.percent(plan.averageShare))):")
            var rows = [["TIME", "WEIGHT", "SHARE"]]
            for p in plan.points {
                rows.append([p.time.formatted(Date.ISO8601FormatStyle()), "\(p.weight)", Format.percent(p.total > 0 ? Double(p.weight) / Double(p.total) : nil)])
            }
            Format.table(rows)
        }
    }
}
