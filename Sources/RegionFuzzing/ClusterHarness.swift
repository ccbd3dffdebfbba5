import Foundation
import RegionCore

/// What a peer writes into etcd, as another instance reads it: the committed state
/// (adopted by every follower, resumed by a new leader), an observation and a heartbeat.
/// Nothing a peer writes may crash regiond; what does not decode is ignored.
enum ClusterHarness {
    /// The first byte picks the value; the rest is its JSON, as the watch hands it over.
    static func run(_ input: [UInt8]) -> String? {
        guard let selector = input.first else { return nil }
        let json = Data(input.dropFirst())
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        switch selector % 3 {
        case 0:
            guard var decision = try? JSONDecoder().decode(CommittedDecision.self, from: json) else { return nil }
            decision.revision = 7
            return Self.adopt(decision, now: now)
        case 1:
            guard let observation = try? JSONDecoder().decode(Observation.self, from: json) else { return nil }
            let reports = ["a", "b", "c"].map { ObserverReport(name: $0, heardAt: now, observations: ["eu-west": observation]) }
            for quorum in [ClusterSettings.Quorum.majority, .count(2), .count(5)] {
                let judged = FleetView(quorum: quorum, staleAfter: .seconds(3)).judge(region: "eu-west", reports: reports, now: now)
                if let capacity = judged.signal.capacity, !(0...1).contains(capacity) { return "fleet capacity \(capacity) outside 0...1" }
                if let lag = judged.signal.lag, !(lag.isFinite && lag >= 0) { return "fleet lag \(lag)" }
                if judged.failing.count > judged.observers.count { return "more failing than counted: \(judged)" }
                _ = try? ControlProtocol.encoder().encode(judged)
                // The leader decides on it.
                var engine = FailoverEngine(settings: FailoverSettings(), regions: ValueHarnesses.base)
                let signals = ["eu-west": judged.signal, "us-east": RegionSignal(status: .healthy, passing: true, capacity: 1)]
                for offset in [0.0, 1] where !engine.step(signals, now: now.addingTimeInterval(offset)).plan.isValid {
                    return "invalid plan on the fleet signal \(judged.signal)"
                }
            }
            return nil
        default:
            let keys = ClusterKeys(prefix: "/regiond")
            let key = String(decoding: json, as: UTF8.self)
            switch keys.kind(of: key) {
            case .observer(let name), .observation(_, let name):
                if name.isEmpty || name.contains("/") { return "key \(key) read as observer '\(name)'" }
            default:
                break
            }
            return nil
        }
    }

    /// A follower adopts the state: the engine takes it (checked like anything read back),
    /// decides on it, and its events and state are written as the control socket writes them.
    static func adopt(_ decision: CommittedDecision, now: Date) -> String? {
        var engine = FailoverEngine(settings: FailoverSettings(), regions: ValueHarnesses.base, state: decision.state)
        if !engine.state.plan.isValid { return "adopted an invalid plan \(engine.state.plan)" }
        _ = engine.nextDeadline()
        let signals = [
            "eu-west": RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0),
            "us-east": RegionSignal(status: .healthy, passing: true, capacity: 1),
        ]
        for offset in [0.0, 1, 3600] {
            let step = engine.step(signals, now: now.addingTimeInterval(offset))
            if !step.plan.isValid { return "invalid plan \(step.plan) after a round on an adopted state" }
        }
        for event in decision.stampedEvents {
            _ = event.journalFields
            _ = try? ControlProtocol.encoder().encode(WatchLine(event: event))
        }
        _ = try? ControlProtocol.encoder().encode(engine.state)
        _ = engine.state.plan.description(order: ValueHarnesses.base.map(\.id))
        return nil
    }
}
