import FoundationEssentials

extension FailoverEngine {
    /// `best`: where new traffic should go now. The plan already says how traffic is
    /// spread; for one new client the best region is the healthy one the plan gives the
    /// most, ties to the lower priority number, then config order. Every other region
    /// says why it is not the best.
    public func best(signals: [String: RegionSignal]) -> BestReport {
        let plan = self.state.plan
        let exclusions = self.exclusions(signals: signals)
        var candidates = self.regions.enumerated().map { index, region -> (Int, BestReport.Candidate) in
            let weight = plan.weight(region.id)
            let status = signals[region.id]?.status
            let eligible = weight > 0 && status == .healthy
            var why: String
            if eligible {
                why = "healthy, \(percent(Double(weight) / Double(max(plan.total, 1)))) of the plan, priority \(region.priority)"
            } else if weight == 0 {
                let rt = self.state.regions[region.id]
                why = "the plan gives it nothing" + (rt.map { " (\($0.admin == .enabled ? $0.phase.name : $0.admin.rawValue))" } ?? "")
                if let excluded = exclusions[region.id], excluded != "not healthy" { why += "; \(excluded)" }
            } else {
                why = "\(status?.rawValue ?? "unknown") (the plan still gives it \(weight): no healthy region can take its share)"
            }
            let candidate = BestReport.Candidate(
                region: region.id, weight: weight, share: Double(weight) / Double(max(plan.total, 1)), status: status, priority: region.priority,
                eligible: eligible, why: why)
            return (index, candidate)
        }
        candidates.sort { a, b in
            let x = a.1
            let y = b.1
            if x.eligible != y.eligible { return x.eligible }
            if x.weight != y.weight { return x.weight > y.weight }
            if x.priority != y.priority { return x.priority < y.priority }
            return a.0 < b.0
        }
        let list = candidates.map(\.1)
        guard let top = list.first, top.eligible else {
            return BestReport(best: nil, reason: "no region is both healthy and given traffic by the plan; see regionctl traffic", candidates: list)
        }
        return BestReport(best: top.region, reason: "\(top.region): \(top.why)", candidates: list)
    }
}
