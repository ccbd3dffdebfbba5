import Foundation
import Prometheus
import RegionCore
import Synchronization

/// The counters and histograms regiond keeps as things happen: decisions from the event
/// stream (the same `Event`s as the history and `watch`), control requests, commits and
/// probe start lateness. Everything that is a state (statuses, the plan, endpoint tallies)
/// is read at scrape time instead (``MetricsExporter``), so nothing here can go stale
/// when a reload removes a region.
///
/// Label values are bounded: strategies, triggers, event kinds, command names and error
/// codes are enums; targets and regions come from the configuration.
public final class DaemonMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let lateness: ValueHistogram
    private let commit: DurationHistogram
    private let detection: ValueHistogram
    private let detectionClock = Mutex(DetectionClock())

    public init() {
        self.lateness = self.registry.makeValueHistogram(
            descriptor: metricName("probe_start_lateness", "seconds", "How late each probe started after it was due."),
            buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
        self.commit = self.registry.makeDurationHistogram(
            descriptor: metricName("state_commit_duration", "seconds", "Time to commit one failover decision to the state database (fsync included)."),
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)])
        self.detection = self.registry.makeValueHistogram(
            descriptor: metricName("failover_detection", "seconds", "Time to detect: from a region leaving healthy to its failover (as regionctl analytics counts it)."),
            buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300])
        // Counters operators alert on start at 0, so rate() and increase() work from the first scrape.
        for strategy in FailoverStrategy.allCases {
            _ = self.registry.makeCounter(descriptor: Self.blocked, labels: [("strategy", strategy.rawValue)])
        }
        _ = self.registry.makeCounter(descriptor: Self.failbacks, labels: [])
    }

    static var requests: MetricNameDescriptor { metricName("control_requests", "total", "Control-socket requests by command and result code (ok or the error code).") }
    static var failovers: MetricNameDescriptor { metricName("failovers", "total", "Failovers started, by strategy and trigger (operators' failover, drain and disable have trigger manual).") }
    static var failbacks: MetricNameDescriptor { metricName("failbacks", "total", "Failbacks completed: a region got its traffic back.") }
    static var blocked: MetricNameDescriptor { metricName("failovers_blocked", "total", "Failovers held: the manual strategy, a pin, a cooldown, or no allowed healthy target.") }
    static var applyFailures: MetricNameDescriptor { metricName("plan_apply_failures", "total", "Plans that did not reach a target (state file, HAProxy, hook).") }
    static var events: MetricNameDescriptor { metricName("events", "total", "Events recorded, by kind.") }
    static var alerts: MetricNameDescriptor {
        metricName("alert_deliveries", "total", "[[alert]] deliveries by rule and result: ok, failed (every attempt), rate_limited, dropped (queue full or stopping).")
    }

    /// One event an `[[alert]]` rule took: delivered, failed, held back or dropped.
    public func alert(_ rule: String, result: AlertDeliveryResult) {
        self.count(Self.alerts, [("alert", rule), ("result", result.rawValue)])
    }

    /// One probe ended, `latenessMs` after it was due.
    public func probeStarted(latenessMs: Double) {
        self.lateness.record(max(0, latenessMs) / 1000)
    }

    public func committed(in duration: Duration) {
        self.commit.record(duration)
    }

    /// A control request was answered; `command` is a known command, `unknown` or `invalid`.
    public func request(command: String, code: String) {
        self.registry.makeCounter(descriptor: Self.requests, labels: [("command", command), ("code", code)]).increment()
    }

    /// Counts the decisions an event records.
    public func record(_ event: Event) {
        if let seconds = self.detectionClock.withLock({ $0.observe(event) }) { self.detection.record(seconds) }
        if let failover = event.payload.failover {
            self.count(Self.failovers, [("strategy", failover.strategy?.rawValue ?? "operator"), ("trigger", failover.trigger.rawValue)])
        }
        switch event.payload {
        case .failbackCompleted:
            self.count(Self.failbacks, [])
        case .failoverBlocked(let held):
            self.count(Self.blocked, [("strategy", held.strategy.rawValue)])
        case .actuatorFailed(let delivery):
            self.count(Self.applyFailures, [("target", delivery.actuator)])
        default:
            break
        }
        self.count(Self.events, [("kind", event.kind.rawValue)])
    }

    private func count(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) {
        self.registry.makeCounter(descriptor: descriptor, labels: labels).increment()
    }
}

/// `regiond_NAME_UNIT` with its help text.
func metricName(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(namespace: "regiond", metricName: name, unitName: unit, helpText: help)
}
