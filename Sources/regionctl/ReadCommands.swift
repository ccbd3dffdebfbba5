import ArgumentParser
import FoundationEssentials
import Glibc
import RegionCore

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
        if let suspect = report.observerSuspect {
            print(
                "OBSERVER SUSPECT since \(Format.time(suspect.since)): \(suspect.summary); this observer's own network is the likeliest cause, so no automatic failover is made until fewer fail. If they really failed, run regionctl confirm"
            )
        }
        if let error = report.lastReloadError { print("last reload FAILED: \(error)") }
        if !report.failoverRecording {
            print("STATE DATABASE NOT WRITABLE: failover decisions are refused until it is (journalctl -u regiond -p crit)")
        }
        if let cluster = report.cluster { Format.cluster(cluster) }
        print("")
        Format.regionTable(report.regions, fleet: report.cluster?.fleet)
    }
}

struct Regions: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One line per region: status, endpoints, error rate, latency, capacity.",
        discussion: "With --status, only regions in that status (or any of a comma-separated list): regionctl regions --status degraded,unhealthy")
    @OptionGroup var options: ClientOptions
    @Option(help: ArgumentHelp("Only regions with this status: unknown, healthy, degraded, unhealthy, recovering (comma-separated for several).", valueName: "status"))
    var status: String?

    func run() throws {
        var request = ControlRequest(cmd: "regions")
        request.status = self.status
        guard let list = try self.options.call(request, as: RegionList.self) else { return }
        Format.regionTable(list.regions, fleet: list.fleet)
    }
}

struct Region: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Everything about one region: metrics, reasons, thresholds, endpoints.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region id.") var id: String

    func run() throws {
        guard let r = try self.options.call(ControlRequest(cmd: "region", region: self.id), as: RegionReport.self) else { return }
        let b = r.brief
        print("region \(b.id): \(b.status.rawValue.uppercased())\(b.since.map { " for \(Format.age($0))" } ?? "")\(r.fleet == nil ? "" : " (seen from here)")")
        if let fleet = r.fleet {
            let failing = fleet.failing.isEmpty ? "none" : fleet.failing.joined(separator: ", ")
            print("  fleet: \(fleet.signal.status.rawValue.uppercased()) by quorum: \(fleet.observers.count) observers counted (\(fleet.observers.joined(separator: ", "))), failing by \(failing), \(fleet.required) needed")
        }
        print("  priority \(b.priority), weight \(b.weight)\(b.enabled ? "" : ", DISABLED")")
        print("  why:")
        for reason in r.reasons { print("    - \(reason)") }
        if let p = r.pending {
            print("  pending: \(p.observed.count) of \(p.needed) evaluations \(p.direction.rawValue) (\(p.observed.map(\.rawValue).joined(separator: ", ")))")
        }
        let m = r.metrics
        print("  window \(formatSeconds(m.windowSeconds)): \(m.samples) samples, \(m.failures) failed, error rate \(Format.percent(m.errorRate))")
        let latency = LatencyPercentile.allCases.map { "\($0.rawValue) \(m.latencyText($0) ?? "-")" }.joined(separator: ", ")
        print("  latency \(latency)")
        print("  capacity \(m.capacityText ?? "-"), endpoints passing \(m.endpointsPassing)/\(m.endpointsReporting)")
        if let lag = m.lag { print("  replication lag \(formatSeconds(lag))") }
        let t = r.thresholds
        print("  thresholds: degraded if error rate > \(Format.percent(t.degradedErrorRate)), capacity < \(Format.percent(t.degradedCapacity)), \(t.latencyPercentile.rawValue) > \(Format.ms(t.degradedLatencyMs)); unhealthy if \(r.require.map { "fewer endpoints pass than require = \($0)" } ?? "error rate > \(Format.percent(t.unhealthyErrorRate)) and capacity < \(Format.percent(t.unhealthyCapacity))")\(r.endpoints.contains { $0.critical == true } ? " or a critical endpoint fails" : ""); rise \(t.rise), fall \(t.fall), every \(t.evaluationIntervalSeconds) s")
        print("")
        var rows = [["ENDPOINT", "KIND", "TARGET", "LAST", "LATENCY", "FAILS", "PROBES", "DETAIL"]]
        for e in r.endpoints {
            let last = e.last.map { $0.failure?.rawValue ?? "pass" } ?? "-"
            rows.append([
                e.critical == true ? "\(e.name) (critical)" : e.name, e.kind, e.target, last, Format.ms(e.last?.latencyMs), "\(e.consecutiveFailures)", "\(e.probes)",
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
        writeAll(STDOUT_FILENO, line + "\n")
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
