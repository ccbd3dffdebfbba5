import Foundation
import NIOCore
import RegionCore
import RegionProbes

extension RegionMonitor {
    /// `probe REGION`: probes every endpoint now, out of schedule, and returns the results.
    /// They go into the window like any other probe's. An endpoint whose scheduled probe
    /// is running is not probed twice: that probe's result is reported instead (and
    /// recorded once, by its schedule). At most once per ``OnDemandProbeLimit/spacing``.
    public func probeNow() async -> Result<ProbeReport, ControlError> {
        let now = self.time.now
        if let retry = self.onDemand.admit(now: now) {
            return .failure(
                ControlError(
                    .rateLimited,
                    "\(self.config.id) was probed on demand less than \(formatDuration(self.onDemand.spacing)) ago; try again after \(retry.formatted(Date.ISO8601FormatStyle()))"
                ))
        }
        var started: [(name: String, generation: Int, future: EventLoopFuture<ProbeCompletion>, start: Duration, own: Bool)] = []
        for name in self.endpoints.names.sorted() {
            guard let slot = self.endpoints.slot(of: name), let runtime = self.endpoints.slots[slot] else { continue }
            if runtime.running {
                let running = self.whenRunningEnds(EndpointTable.tag(slot: slot, generation: runtime.generation))
                started.append((name, runtime.generation, running, Self.uptime(.now()), false))
            } else {
                started.append((name, runtime.generation, self.prober.start(runtime.prepared, on: self.loop), Self.uptime(.now()), true))
            }
        }
        var results: [ProbeResult] = []
        for probe in started {
            let completion = try? await probe.future.get()
            let outcome = completion?.outcome ?? .fail(.other, "probe ended without a result")
            let end = max(probe.start, Self.uptime(completion?.endedAt ?? .now()))
            let finishedAt = self.time.now
            var result = ProbeResult(
                endpoint: probe.name, scheduledAt: now, finishedAt: finishedAt, latencyMs: (end - probe.start).milliseconds,
                failure: outcome.failure, detail: outcome.detail, capacity: outcome.capacity)
            result.lag = outcome.lag
            if !probe.own {
                result.notCounted = "the scheduled probe that was running; recorded by its schedule"
            } else if let timeout = self.endpoints[probe.name]?.config.timeout,
                case .discounted(let why) = ProbeEvidence.judge(failure: outcome.failure, startLateness: .zero, elapsed: end - probe.start, timeout: timeout)
            {
                result.notCounted = why
            }
            // The endpoint may have been replaced by a reload while this probe ran.
            if probe.own, result.notCounted == nil, var runtime = self.endpoints[probe.name], runtime.generation == probe.generation {
                runtime.last = result
                runtime.probes += 1
                runtime.tally.record(result)
                runtime.consecutiveFailures = result.passed ? 0 : runtime.consecutiveFailures + 1
                self.endpoints[probe.name] = runtime
                self.window.record(result)
            }
            results.append(result)
        }
        return .success(ProbeReport(region: self.config.id, results: results))
    }
}
