import Foundation
import Prometheus
import RegionCore

/// `GET /metrics`: what regiond knows, in the Prometheus text format. States (statuses,
/// the plan, phases, deadlines, endpoint tallies, targets) are read from the supervisor
/// and the failover controller at scrape time, so a region removed
/// by reload leaves no stale series; counters and histograms kept as things happen come
/// from ``DaemonMetrics``. Nothing here is on the probe path. The state series are
/// written by ``ExpositionText`` (why: see there).
public struct MetricsExporter<C: Clock>: Sendable where C.Duration == Duration {
    let supervisor: Supervisor<C>
    let controller: FailoverController<C>?
    let statistics: ProbeStatistics
    let metrics: DaemonMetrics
    let time: TimeBase<C>
    let controlClients: OpenConnections

    public init(
        supervisor: Supervisor<C>, controller: FailoverController<C>?, statistics: ProbeStatistics, metrics: DaemonMetrics, time: TimeBase<C>,
        controlClients: OpenConnections
    ) {
        self.controlClients = controlClients
        self.supervisor = supervisor
        self.controller = controller
        self.statistics = statistics
        self.metrics = metrics
        self.time = time
    }

    public func scrape() async -> [UInt8] {
        let now = self.time.now
        var out = ExpositionText()
        func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            out.add(unit.isEmpty ? "regiond_\(name)" : "regiond_\(name)_\(unit)", .gauge, help, labels, value)
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ value: UInt64) {
            out.add("regiond_\(name)_total", .counter, help, labels, Double(value))
        }
        gauge("build", "info", "regiond's version; always 1.", [("version", RegiondVersion.string)], 1)
        counter("probes", "Probes run since start.", [], self.statistics.probesRun)
        counter("probes_not_counted", "Probe results left out of their region's window because regiond itself was starved or short of descriptors.", [], self.statistics.probesNotCounted)
        gauge("control_clients", "", "Control socket connections open now, watchers included.", [], Double(self.controlClients.open))
        let alarms = self.supervisor.alarms
        gauge("decisions_held", "", "1 while regiond holds automatic decisions because it is overloaded.", [], alarms.held == nil ? 0 : 1)
        gauge("observer_suspect", "", "1 while a lone regiond suspects its own network and holds automatic decisions.", [], alarms.suspect == nil ? 0 : 1)

        for report in await self.supervisor.latestReports() {
            let brief = report.brief
            let region = [("region", brief.id)]
            for status in RegionStatus.allCases {
                gauge("region_status", "", "1 for the region's current status, 0 for the others.", region + [("status", status.rawValue)], brief.status == status ? 1 : 0)
            }
            let m = report.metrics
            gauge("region_error", "ratio", "Share of failed probes in the region's window (0..1).", region, m.errorRate)
            for p in LatencyPercentile.allCases {
                if let ms = m.latencyMs(p) {
                    gauge("region_latency", "seconds", "Probe latency percentile in the window; a timed-out probe counts as its timeout.", region + [("percentile", p.rawValue)], ms / 1000)
                }
            }
            if let capacity = m.capacity {
                gauge("region_capacity", "ratio", "Capacity (0..1): reported by endpoints, or the share of passing endpoints.", region, capacity)
            }
            if let lag = m.lag {
                gauge("region_replication_lag", "seconds", "Replication lag its endpoints report.", region, lag)
            }
            for endpoint in report.endpoints {
                let labels = region + [("endpoint", endpoint.name)]
                let tally = endpoint.tally ?? ProbeTally()
                counter("endpoint_probes", "Probes of an endpoint by result: pass, or the failure class.", labels + [("result", "pass")], tally.passed)
                // A failure class appears once it has happened (11 series per endpoint would
                // be 11,000 at 1,000 endpoints, nearly all zero).
                for failure in ProbeFailure.allCases {
                    guard let count = tally.failed[failure.rawValue], count > 0 else { continue }
                    counter("endpoint_probes", "Probes of an endpoint by result: pass, or the failure class.", labels + [("result", failure.rawValue)], count)
                }
                if let last = endpoint.last {
                    gauge("endpoint_last_probe_duration", "seconds", "How long the endpoint's last probe took.", labels, last.latencyMs / 1000)
                    gauge("endpoint_up", "", "1 when the endpoint's last probe passed.", labels, last.passed ? 1 : 0)
                }
            }
        }
        if let controller = self.controller {
            let traffic = controller.trafficReport()
            gauge("plan_weight_scale", "", "What the plan's weights sum to ([failover] total).", [], Double(traffic.total))
            gauge("no_healthy_target", "", "1 while failing regions keep traffic because no healthy region may take it (panic).", [], traffic.panic ? 1 : 0)
            gauge("pinned", "", "1 while automatic moves are pinned.", [], traffic.pin == nil ? 0 : 1)
            gauge("state_recording", "", "1 while decisions can be recorded in the state database.", [], traffic.recording ? 1 : 0)
            for row in traffic.regions {
                let region = [("region", row.region)]
                gauge("region_plan_weight", "", "The region's weight in the committed plan.", region, Double(row.weight))
                gauge("region_plan_share", "ratio", "The region's share of traffic in the committed plan (0..1).", region, Double(row.weight) / Double(max(traffic.total, 1)))
                for phase in RegionPhase.names {
                    gauge("region_failover_phase", "", "1 for the region's failover phase, 0 for the others.", region + [("phase", phase)], row.phase == phase ? 1 : 0)
                }
                let deadlines: [(String, Date?)] = [("recovery_window", row.recoveryEnds), ("cooldown", row.cooldownUntil), ("next_step", row.nextStep), ("drain", row.drainUntil),
                    ("maintenance_begins", row.maintenance.flatMap { $0.begun ? nil : $0.start }), ("maintenance_ends", row.maintenance?.end)]
                for case (let kind, let date?) in deadlines {
                    gauge("region_deadline", "seconds", "Seconds until the region's recovery window, cooldown, next gradual step, drain or maintenance window ends (or a maintenance window begins).", region + [("deadline", kind)], max(0, date.timeIntervalSince(now)))
                }
            }
            for target in traffic.targets ?? [] {
                let labels = [("target", target.name)]
                gauge("plan_target_up", "", "1 when the target (state file, an HAProxy, the hook) has the committed plan.", labels, target.ok ? 1 : 0)
                if let applied = target.lastApplied {
                    gauge("plan_target_last_success_timestamp", "seconds", "When the target last took a plan (Unix time).", labels, applied.timeIntervalSince1970)
                }
            }
        }
        ProcessMetrics.read().add(to: &out)
        var bytes = out.text
        self.metrics.registry.emit(into: &bytes)
        return bytes
    }
}
