import Foundation
import Testing

@testable import RegionCore

/// A small seedable generator so a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// For random status sequences, times and operator commands, the invariants hold after every round.
@Suite("FailoverEngine properties")
struct FailoverPropertyTests {
    static let regions = [
        FailoverRegion(id: "a", priority: 1, weight: 4000, maxWeight: 6000),
        FailoverRegion(id: "b", priority: 1, weight: 3000, maxWeight: 5000),
        FailoverRegion(id: "c", priority: 2, weight: 2000, maxWeight: 10_000),
        FailoverRegion(id: "d", priority: 3, weight: 1000, maxWeight: 3000),
    ]

    static func randomSignal(_ rng: inout SplitMix64) -> RegionSignal {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0...5: RegionSignal(status: .healthy, passing: Int.random(in: 0..<8, using: &rng) > 0, capacity: Double.random(in: 0.3...1, using: &rng))
        case 6: RegionSignal(status: .degraded, passing: false, trigger: nil, capacity: 0.8)
        case 7: RegionSignal(status: .degraded, passing: false, trigger: .latency, capacity: 0.8)
        case 8: RegionSignal(status: .unhealthy, passing: false, trigger: .timeout, capacity: 0)
        default: RegionSignal(status: .unknown, passing: false)
        }
    }

    @Test(arguments: FailoverStrategy.allCases)
    func invariantsHoldForRandomHistories(_ strategy: FailoverStrategy) throws {
        for seed in 0..<60 {
            var rng = SplitMix64(state: UInt64(seed) &* 7919 &+ UInt64(strategy.hashValue & 0xffff))
            var settings = FailoverSettings()
            settings.strategy = strategy
            settings.cooldown = .seconds(Int64.random(in: 0...200, using: &rng))
            settings.recoveryWindow = .seconds(120)
            settings.gradualInterval = .seconds(Int64.random(in: 5...40, using: &rng))
            settings.gradualReverse = Bool.random(using: &rng)
            settings.failback = Int.random(in: 0..<4, using: &rng) == 0 ? .manual : .automatic
            var engine = FailoverEngine(settings: settings, regions: Self.regions)
            var signals = Dictionary(uniqueKeysWithValues: Self.regions.map { ($0.id, healthy) })
            var now = 0.0
            /// When each region last started a recovery window that has not been broken since.
            var windowStart: [String: Double] = [:]
            for round in 0..<300 {
                now += Double(Int.random(in: 0...30, using: &rng))
                for region in Self.regions where Int.random(in: 0..<4, using: &rng) == 0 {
                    signals[region.id] = Self.randomSignal(&rng)
                }
                let before = engine.state
                let decision: Decision
                var automatic = true
                if Int.random(in: 0..<25, using: &rng) == 0 {
                    automatic = false
                    let id = Self.regions.randomElement(using: &rng)!.id
                    let commands: [OperatorCommand] = [.disable(id), .enable(id), .drain(id), .pin(ttl: .seconds(45)), .failover(from: id, to: nil, strategy: nil)]
                    let command = commands.randomElement(using: &rng)!
                    guard let applied = try? engine.apply(command, by: 0, reason: "property", signals: signals, now: t(now)) else { continue }
                    decision = applied
                } else {
                    decision = engine.step(signals, now: t(now))
                }
                let context = "strategy \(strategy) seed \(seed) round \(round) t=\(now)"
                let plan = engine.state.plan
                #expect(plan.weights.values.reduce(0, +) == settings.total, "weights sum: \(context)")
                #expect(plan.weights.values.allSatisfy { $0 >= 0 }, "no negative weight: \(context)")
                for (id, runtime) in engine.state.regions where runtime.admin == .disabled {
                    #expect(plan.weight(id) == 0, "disabled \(id) has weight: \(context)")
                }
                for event in decision.events {
                    guard let id = event.region else { continue }
                    switch event.kind {
                    case .recoveryStarted, .recoveryRestarted:
                        windowStart[id] = now
                    case .recoveryFailed, .failoverStarted:
                        windowStart[id] = nil
                    default:
                        break
                    }
                    guard automatic else { continue }
                    let cooldown = before.regions[id]?.cooldownUntil
                    let startsMove = event.kind == .failbackCompleted || event.kind == .failbackStep
                        || (event.kind == .failoverStarted && before.regions[id]?.phase == .serving)
                    if startsMove, case .failingBack = before.regions[id]?.phase {
                        // a step of a failback that began after the cooldown ended
                    } else if startsMove, let cooldown {
                        #expect(cooldown <= t(now), "automatic \(event.kind) of \(id) inside its cooldown: \(context)")
                    }
                    if event.kind == .failbackCompleted || event.kind == .failbackStep,
                        before.regions[id]?.phase.name != "failing_back"
                    {
                        let start = try #require(windowStart[id], "failback of \(id) without a recovery window: \(context)")
                        #expect(now - start >= 120, "failback of \(id) \(now - start) s into its window: \(context)")
                    }
                }
            }
        }
    }
}
