import ArgumentParser
import Foundation
import RegionCore

@main
struct RegionctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regionctl",
        abstract: "Query and control a running regiond over its control socket.",
        discussion: """
            Exit status: 0 success, 1 regiond answered with an error, 64 bad usage, \
            69 regiond is not reachable, 77 permission denied.
            Shell completions: regionctl --generate-completion-script bash|zsh|fish
            """,
        version: RegiondVersion.string,
        subcommands: [
            Status.self, Regions.self, Region.self, Traffic.self, History.self, AnalyticsCommand.self, Watch.self, Version.self,
            Reload.self, Failover.self, Drain.self, Enable.self, Disable.self, SetWeights.self, Pin.self, Unpin.self,
        ]
    )
}

struct ClientOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Control socket of regiond.", valueName: "path"))
    var socket: String = ProcessInfo.processInfo.environment["REGIOND_SOCKET"] ?? ControlProtocol.defaultSocketPath

    @Flag(help: "Print the daemon's JSON reply instead of a table.")
    var json = false

    /// Sends one request and decodes the reply, or exits with a meaningful status.
    /// With `--json` it prints the reply as regiond sent it and returns nil (an error
    /// reply still exits non-zero); the result is then not decoded, which for a
    /// thousand regions is most of the command's time.
    func call<T: Codable & Sendable>(_ request: ControlRequest, as type: T.Type) throws -> T? {
        var client: ControlClient
        do {
            client = try ControlClient(path: self.socket)
        } catch {
            throw fail(error.message, error.exitCode)
        }
        defer { client.close() }
        let line: Data?
        do {
            try client.send(request)
            line = try client.readLine()
        } catch {
            throw fail(error.message, error.exitCode)
        }
        guard let line else { throw fail("regiond closed the connection without answering", 69) }
        if self.json {
            _ = try Self.decode(line, as: Unread.self)
            printJSON(line)
            return nil
        }
        return try Self.decode(line, as: type)
    }

    /// A result that is checked for presence but not read.
    struct Unread: Codable, Sendable {
        init(from decoder: any Decoder) throws {}
        func encode(to encoder: any Encoder) throws {}
    }

    static func decode<T: Codable & Sendable>(_ line: Data, as type: T.Type) throws -> T {
        let reply: ControlReply<T>
        do {
            reply = try ControlProtocol.decoder().decode(ControlReply<T>.self, from: line)
        } catch {
            throw fail("unexpected reply from regiond: \(String(decoding: line.prefix(200), as: UTF8.self))", 1)
        }
        if let error = reply.error {
            throw fail("\(error.message) [\(error.code.rawValue)]", error.code == .permissionDenied ? 77 : 1)
        }
        guard let result = reply.result else { throw fail("regiond sent an empty reply", 1) }
        return result
    }
}

func fail(_ message: String, _ code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("regionctl: \(message)\n".utf8))
    return ExitCode(code)
}

func printJSON(_ data: Data) {
    print(String(decoding: data, as: UTF8.self))
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Summary: the daemon, and every region's status.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let report = try self.options.call(ControlRequest(cmd: "status"), as: StatusReport.self) else { return }
        print("regiond \(report.version), pid \(report.pid), up \(Format.age(report.startedAt)), config \(report.configFile) (generation \(report.configGeneration))")
        print("status: \(report.summary)")
        var probes = "probes run: \(report.probesRun)"
        if let p99 = report.probeLatenessP99Ms { probes += ", start lateness p99 \(Format.ms(p99))" }
        if let uncounted = report.probesNotCounted, uncounted > 0 { probes += ", \(uncounted) not counted (regiond starved or short of descriptors)" }
        print(probes)
        if let held = report.decisionsHeld {
            print("DECISIONS HELD: regiond is overloaded (\(held)); statuses are frozen and no automatic failover is made until it keeps its schedule")
        }
        if let error = report.lastReloadError { print("last reload FAILED: \(error)") }
        if !report.failoverRecording {
            print("STATE DATABASE NOT WRITABLE: failover decisions are refused until it is (journalctl -u regiond -p crit)")
        }
        print("")
        Format.regionTable(report.regions)
    }
}

struct Regions: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One line per region: status, endpoints, error rate, latency, capacity.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let list = try self.options.call(ControlRequest(cmd: "regions"), as: RegionList.self) else { return }
        Format.regionTable(list.regions)
    }
}

struct Region: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Everything about one region: metrics, reasons, thresholds, endpoints.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region id.") var id: String

    func run() throws {
        guard let r = try self.options.call(ControlRequest(cmd: "region", region: self.id), as: RegionReport.self) else { return }
        let b = r.brief
        print("region \(b.id): \(b.status.rawValue.uppercased())\(b.since.map { " for \(Format.age($0))" } ?? "")")
        print("  priority \(b.priority), weight \(b.weight)\(b.enabled ? "" : ", DISABLED")")
        print("  why:")
        for reason in r.reasons { print("    - \(reason)") }
        if let p = r.pending {
            print("  pending: \(p.observed.count) of \(p.needed) evaluations \(p.direction.rawValue) (\(p.observed.map(\.rawValue).joined(separator: ", ")))")
        }
        let m = r.metrics
        print("  window \(formatSeconds(m.windowSeconds)): \(m.samples) samples, \(m.failures) failed, error rate \(Format.percent(m.errorRate))")
        print("  latency p50 \(Format.ms(m.latencyP50Ms)), p95 \(Format.ms(m.latencyP95Ms)), p99 \(Format.ms(m.latencyP99Ms))")
        print("  capacity \(Format.percent(m.capacity)), endpoints passing \(m.endpointsPassing)/\(m.endpointsReporting)")
        let t = r.thresholds
        print("  thresholds: degraded if error rate > \(Format.percent(t.degradedErrorRate)), capacity < \(Format.percent(t.degradedCapacity)), \(t.latencyPercentile.rawValue) > \(Format.ms(t.degradedLatencyMs)); unhealthy if error rate > \(Format.percent(t.unhealthyErrorRate)) and capacity < \(Format.percent(t.unhealthyCapacity)); rise \(t.rise), fall \(t.fall), every \(t.evaluationIntervalSeconds) s")
        print("")
        var rows = [["ENDPOINT", "KIND", "TARGET", "LAST", "LATENCY", "FAILS", "PROBES", "DETAIL"]]
        for e in r.endpoints {
            let last = e.last.map { $0.failure?.rawValue ?? "pass" } ?? "-"
            rows.append([
                e.name, e.kind, e.target, last, Format.ms(e.last?.latencyMs), "\(e.consecutiveFailures)", "\(e.probes)",
                e.last?.detail ?? "",
            ])
        }
        Format.table(rows)
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Versions of regionctl, regiond and the control protocol.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let v = try self.options.call(ControlRequest(cmd: "version"), as: VersionReport.self) else { return }
        print("regionctl \(RegiondVersion.string)")
        print("regiond \(v.version), control protocol \(v.protocolVersion)")
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the configuration file (needs root or the admin group).",
        discussion: "A bad file is rejected with its errors and the running configuration stays.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let r = try self.options.call(ControlRequest(cmd: "reload"), as: ReloadReport.self) else { return }
        func list(_ ids: [String]) -> String { ids.isEmpty ? "none" : ids.joined(separator: ", ") }
        print("configuration generation \(r.generation) applied")
        print("  added: \(list(r.added)); removed: \(list(r.removed)); updated: \(list(r.updated)); unchanged: \(r.unchanged)")
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print events as they happen, until interrupted.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        var client: ControlClient
        do {
            client = try ControlClient(path: self.options.socket)
            try client.send(ControlRequest(cmd: "watch"))
            guard let first = try client.readLine() else { throw fail("regiond closed the connection", 69) }
            _ = try ClientOptions.decode(first, as: WatchStarted.self)
            while let line = try client.readLine() {
                if self.options.json {
                    Self.emit(String(decoding: line, as: UTF8.self))
                    continue
                }
                guard let watch = try? ControlProtocol.decoder().decode(WatchLine.self, from: line) else { continue }
                let e = watch.event
                let time = e.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                Self.emit("\(time) \(e.kind.rawValue)\(e.region.map { " \($0)" } ?? "") \(e.message)")
            }
        } catch let error as ControlClient.Failure {
            throw fail(error.message, error.exitCode)
        }
        throw fail("regiond closed the connection (stopping?)", 69)
    }

    /// Writes one line unbuffered, so `regionctl watch | grep` sees each event at once.
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

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

// MARK: - Failover

extension Format {
    static func time(_ date: Date?) -> String {
        guard let date else { return "-" }
        let seconds = self.clampedSeconds(date.timeIntervalSinceNow.rounded())
        let iso = date.formatted(Date.ISO8601FormatStyle())
        return seconds >= 0 ? "\(iso) (in \(seconds)s)" : "\(iso) (\(-seconds)s ago)"
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
        var rows = [["REGION", "WEIGHT", "BASELINE", "SHARE", "PHASE", "ADMIN", "STATUS", "NEXT", "WHY"]]
        for r in t.regions {
            let next = r.recoveryEnds.map { "fails back \(Format.time($0))" } ?? r.nextStep.map { "step \(Format.time($0))" } ?? "-"
            var why = r.note ?? ""
            if why.isEmpty, let trigger = r.trigger { why = "trigger: \(trigger)" }
            if let cooldown = r.cooldownUntil, cooldown > Date() { why += (why.isEmpty ? "" : "; ") + "cooldown until \(Format.time(cooldown))" }
            rows.append([r.region, "\(r.weight)", "\(r.baseline)", Format.percent(r.share), r.phase, r.admin, r.status?.rawValue ?? "-", next, why])
        }
        self.table(rows)
    }
}

struct Traffic: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The traffic plan, each region's failover phase, and why.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let report = try self.options.call(ControlRequest(cmd: "traffic"), as: TrafficReport.self) else { return }
        Format.traffic(report)
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Recorded events, oldest first.")
    @OptionGroup var options: ClientOptions
    @Option(help: "Only this region.") var region: String?
    @Option(help: ArgumentHelp("Only events since this ISO 8601 time or this long ago (\"1h\").", valueName: "time")) var since: String?
    @Option(help: "At most this many events (newest).") var limit: Int = 100

    func run() throws {
        var request = ControlRequest(cmd: "history", region: self.region)
        request.since = self.since
        request.limit = self.limit
        guard let report = try self.options.call(request, as: HistoryReport.self) else { return }
        for e in report.events {
            let time = e.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            let who = e.fields["uid"].map { " [uid \($0)]" } ?? ""
            print("\(e.id)  \(time)  \(e.kind.rawValue)\(e.region.map { "  \($0)" } ?? "")  \(e.message)\(who)")
        }
    }
}

/// Shared by the commands that change traffic: send, then print the new plan.
protocol TrafficCommand: ParsableCommand {
    var options: ClientOptions { get }
    func request() throws -> ControlRequest
}

extension TrafficCommand {
    /// A request naming one region, with the operator's reason.
    static func request(_ cmd: String, region: String, reason: String?) -> ControlRequest {
        var request = ControlRequest(cmd: cmd, region: region)
        request.reason = reason
        return request
    }

    func run() throws {
        guard let report = try self.options.call(try self.request(), as: TrafficReport.self) else { return }
        Format.traffic(report)
    }
}

struct Failover: TrafficCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a region's traffic away now (held until `enable`).",
        discussion: "Needs root or the admin group. Without TO, the strategy picks the targets.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region to move traffic away from.") var from: String
    @Argument(help: "Region to send it to.") var to: String?
    @Option(help: "automatic, gradual or cascading (default: the configured strategy).") var strategy: String?
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest {
        var r = ControlRequest(cmd: "failover", region: self.from)
        r.to = self.to
        r.strategy = self.strategy
        r.reason = self.reason
        return r
    }
}

struct Drain: TrafficCommand {
    static let configuration = CommandConfiguration(abstract: "Move a region's traffic away following the strategy, and hold it away.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region.") var region: String
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest { Self.request("drain", region: self.region, reason: self.reason) }
}

struct Enable: TrafficCommand {
    static let configuration = CommandConfiguration(
        abstract: "Return a region to service (also approves a manual failback).",
        discussion: "A healthy region gets its traffic back now; an unhealthy one once it has been healthy for the recovery window.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region.") var region: String
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest { Self.request("enable", region: self.region, reason: self.reason) }
}

struct Disable: TrafficCommand {
    static let configuration = CommandConfiguration(abstract: "Take all traffic from a region at once; it is never a target until enabled.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region.") var region: String
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest { Self.request("disable", region: self.region, reason: self.reason) }
}

struct SetWeights: TrafficCommand {
    static let configuration = CommandConfiguration(commandName: "set-weights", abstract: "Replace baseline weights: regionctl set-weights eu-west=6000 us-east=4000")
    @OptionGroup var options: ClientOptions
    @Argument(help: "REGION=WEIGHT pairs.") var pairs: [String]
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest {
        var weights: [String: Int] = [:]
        for pair in self.pairs {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let weight = Int(parts[1]) else { throw ValidationError("'\(pair)' is not REGION=WEIGHT") }
            weights[String(parts[0])] = weight
        }
        var r = ControlRequest(cmd: "set-weights")
        r.weights = weights
        r.reason = self.reason
        return r
    }
}

struct Pin: TrafficCommand {
    static let configuration = CommandConfiguration(abstract: "Freeze automatic failover until unpinned or the TTL passes.")
    @OptionGroup var options: ClientOptions
    @Option(help: "Why (required).") var reason: String
    @Option(help: ArgumentHelp("How long, e.g. 30m (default: until unpin).", valueName: "duration")) var ttl: String?

    func request() throws -> ControlRequest {
        var r = ControlRequest(cmd: "pin")
        r.reason = self.reason
        r.ttl = self.ttl
        return r
    }
}

struct Unpin: TrafficCommand {
    static let configuration = CommandConfiguration(abstract: "Resume automatic failover.")
    @OptionGroup var options: ClientOptions
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest {
        var r = ControlRequest(cmd: "unpin")
        r.reason = self.reason
        return r
    }
}

struct AnalyticsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analytics", abstract: "Failovers per strategy and trigger, success rate, time to detect and to fail back, time in each status.")
    @OptionGroup var options: ClientOptions
    @Option(help: ArgumentHelp("Only events since this ISO 8601 time or this long ago (\"24h\").", valueName: "time")) var since: String?

    func run() throws {
        var request = ControlRequest(cmd: "analytics")
        request.since = self.since
        guard let a = try self.options.call(request, as: AnalyticsReport.self) else { return }
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.1f s", $0) } ?? "-" }
        func counts(_ map: [String: Int]) -> String { map.isEmpty ? "none" : map.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") }
        print("failovers: \(a.failovers) (by strategy: \(counts(a.failoversByStrategy)); by trigger: \(counts(a.failoversByTrigger)))")
        print("blocked: \(a.blocked); success rate: \(Format.percent(a.successRate)); failbacks: \(a.failbacks)")
        print("time to detect: p50 \(seconds(a.timeToDetectP50)), max \(seconds(a.timeToDetectMax))")
        print("time to fail back: p50 \(seconds(a.timeToFailbackP50)), max \(seconds(a.timeToFailbackMax))")
        let time = a.secondsInStatus.sorted { $0.key < $1.key }.map { "\($0.key) \(wholeNumber($0.value)) s" }.joined(separator: ", ")
        print("time in status (all regions): \(time.isEmpty ? "-" : time)")
    }
}
