import FoundationEssentials

extension FailoverEngine {
    /// Never strand users for a ramp: when a failing region's traffic has nowhere to go
    /// and a healthy region it may go to is only ramping its own share back
    /// (`failing_back`, which takes no moved traffic), that ramp ends at once, so the
    /// region is a target again in this same round. Cold caches are a lesser harm than
    /// users left on a failing region. `make chaos` found it: `no_healthy_target` while a
    /// healthy region was at 3750 of its 5000 on the ramp (seeds 1252840461, 247327317).
    mutating func cutRampsForStranded(signals: [String: RegionSignal], now: Date, events: inout [Event]) {
        let calculator = self.calculator(signals)
        let stranded = self.regions.filter { region in
            guard let signal = signals[region.id], signal.failing, let rt = self.state.regions[region.id], rt.admin == .enabled, rt.share > 0 else { return false }
            return !calculator.hasTarget(for: region)
        }
        guard !stranded.isEmpty else { return }
        for region in self.regions {
            guard var rt = self.state.regions[region.id], case .failingBack = rt.phase, rt.admin == .enabled, signals[region.id]?.status == .healthy,
                let waiting = stranded.first(where: { $0.mayMove(to: region.id) })
            else { continue }
            Self.backInService(&rt)
            self.state.regions[region.id] = rt
            events.append(
                self.event(
                    region.id, "region \(region.id) has its whole share back at once: \(waiting.id)'s traffic must move and no other healthy region can take it",
                    .failbackCompleted, now))
        }
    }
}
