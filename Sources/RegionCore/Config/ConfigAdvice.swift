import FoundationEssentials

/// What a valid configuration does that its author probably did not mean: `check-config`
/// prints these as warnings (exit 0), and the daemon logs them at start and reload.
public enum ConfigAdvice {
    /// One warning per cause: the same advice for many regions (a shared `[probe]` or
    /// `[status]` default) is said once, naming the first regions and how many more.
    public static func warnings(_ config: Config, file: String) -> [ConfigIssue] {
        var found: [(region: RegionConfig, key: String, message: String)] = []
        func warn(_ region: RegionConfig, _ key: String, _ message: String) {
            found.append((region, key, message))
        }
        for region in config.regions {
            // A probe that times out counts as "more than its timeout", so a latency above
            // the longest timeout of a region's endpoints can never be seen.
            if let longest = region.endpoints.map(\.timeout).max() {
                let percentile = region.status.latencyPercentile.rawValue
                if region.status.degradedLatency > longest {
                    warn(
                        region, "degraded_latency",
                        "\(percentile) above \(formatDuration(region.status.degradedLatency)) can never be seen: the longest probe timeout is \(formatDuration(longest)) (a timed-out probe counts as just over its timeout). Raise timeout to at least \(formatDuration(region.status.degradedLatency))"
                    )
                }
                if region.failover.triggers.latency > longest {
                    warn(
                        region, "trigger_latency",
                        "\(percentile) above \(formatDuration(region.failover.triggers.latency)) can never be seen: the longest probe timeout is \(formatDuration(longest)), so this region never fails over for latency. Raise timeout to at least \(formatDuration(region.failover.triggers.latency))"
                    )
                }
            }
            // A hung endpoint gives one result per timeout (its probes never overlap). If the
            // window cannot hold min_samples of those, a region whose endpoints all hang
            // never has enough samples to be judged, and keeps the status it had.
            let window = region.status.window.seconds
            // Counted in Double: window and timeouts come from the config, and Int(...) of
            // a quotient that does not fit would trap.
            let hungResults = region.endpoints.reduce(0.0) { total, endpoint in
                total + (window / max(endpoint.timeout.seconds, 0.001)).rounded(.down)
            }
            if !region.endpoints.isEmpty, hungResults < Double(region.status.minSamples) {
                warn(
                    region, "window",
                    "if every endpoint hangs, the \(formatDuration(region.status.window)) window holds at most \(wholeNumber(hungResults)) results (one per probe timeout), fewer than min_samples \(region.status.minSamples), so the region would keep its status. Lengthen window or shorten timeout"
                )
            }
            if let allowed = config.allowedTargets(of: region), allowed.isEmpty, config.regions.count > 1 {
                warn(region, "failover_to", "no other region is allowed to take this region's traffic (failover_to, failover_within), so it is never failed over")
            }
        }
        var order: [String] = []
        var groups: [String: [(region: RegionConfig, key: String, message: String)]] = [:]
        for warning in found {
            let cause = warning.key + "\u{0}" + warning.message
            if groups[cause] == nil { order.append(cause) }
            groups[cause, default: []].append(warning)
        }
        return order.compactMap { groups[$0] }.map { group in
            let first = group[0]
            let names = group.prefix(3).map(\.region.id).joined(separator: ", ")
            let regions = group.count == 1 ? "region \(names)" : group.count <= 3 ? "regions \(names)" : "regions \(names) and \(group.count - 3) more"
            return ConfigIssue(file: file, line: first.region.line, key: "\(regions): \(first.key)", message: "warning: \(first.message)")
        }
    }
}
