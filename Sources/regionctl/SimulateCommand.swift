import ArgumentParser
import FoundationEssentials
import Glibc
import RegionCore

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What regiond would do if the scripted things happened: a dry run that touches nothing.",
        discussion: """
            Runs the failover engine on a copy of the live state, settings and statuses, and \
            prints each moment something would happen and the plan after it: cooldowns, the \
            recovery window and gradual steps included. Statuses are set directly (detection \
            time is not simulated); a graceful drain is assumed to last its drain_timeout.

            A step: REGION fails | degrades [by error_rate|capacity|latency|timeout] | recovers \
            | flaps | lags SECONDS | capacity PERCENT, or an operator's failover REGION [to \
            REGION] [strategy S] | drain REGION | enable REGION | disable REGION | pin | unpin; \
            each optionally followed by "at +DURATION".

              regionctl simulate "eu fails" --at +30s "us degrades at +60s" "eu recovers at +5m"
            """)
    @OptionGroup var options: ClientOptions
    @Argument(help: "Scripted steps, e.g. \"eu fails\" \"us degrades at +60s\".") var steps: [String]
    @Option(help: ArgumentHelp("When steps without their own \"at\" happen (default +0s).", valueName: "+duration")) var at: String?
    @Option(help: ArgumentHelp("Stop after this long (default: when nothing is left to happen).", valueName: "+duration")) var until: String?

    func run() throws {
        var request = ControlRequest(cmd: "simulate")
        request.steps = self.steps
        request.at = self.at
        request.until = self.until
        guard let report = try self.options.call(request, as: SimulationReport.self) else { return }
        Self.print(report)
    }

    static func print(_ report: SimulationReport) {
        // The plan columns first: "what happens" can be long, and the last column is not padded.
        var rows = [["T"] + report.regions + ["WHAT HAPPENS"]]
        for row in report.rows {
            var what = row.steps
            if let refused = row.refused { what.append("REFUSED \(refused)") }
            what += row.events.map { "\($0.kind.rawValue)\($0.region.map { " \($0)" } ?? ""): \($0.message)" }
            rows.append(["+" + formatSeconds(row.offset)] + report.regions.map { "\(row.plan[$0] ?? 0)" } + [what.isEmpty ? "now" : what.joined(separator: "; ")])
        }
        Format.table(rows)
        if report.truncated { Swift.print("(stopped with more still to happen; use --until to look further)") }
    }
}
