import Foundation
import Testing

@testable import RegionCore

/// Allowed targets (data residency) and the replication-lag guard.
@Suite("Residency and the lag guard")
struct ResidencyAndLagTests {
    /// eu-west may only go to eu-central; us-east anywhere.
    static let residentRegions = [
        FailoverRegion(id: "eu-west", priority: 1, weight: 5000, maxWeight: 10_000, allowedTargets: ["eu-central"]),
        FailoverRegion(id: "eu-central", priority: 2, weight: 2000, maxWeight: 10_000, allowedTargets: ["eu-west"]),
        FailoverRegion(id: "us-east", priority: 1, weight: 3000, maxWeight: 10_000),
    ]

    @Test(arguments: [FailoverStrategy.automatic, .cascading, .gradual, .graceful])
    func trafficOnlyGoesWhereItMay(_ strategy: FailoverStrategy) {
        var fleet = Fleet(Self.residentRegions) { $0.strategy = strategy }
        fleet.at(0)
        fleet.at(10, ["eu-west": failing])
        for step in stride(from: 40.0, through: 1000, by: 30) { fleet.at(step) }
        // All of eu-west's share went to eu-central, although us-east is a better tier.
        #expect(fleet.weights == ["eu-west": 0, "eu-central": 7000, "us-east": 3000])
        // eu-central fails too: eu-west's traffic has nowhere to go; eu-central's may not go to us-east either.
        let decision = fleet.at(1010, ["eu-central": failing])
        #expect(fleet.weights == ["eu-west": 0, "eu-central": 7000, "us-east": 3000])
        #expect(decision.events.contains { $0.kind == .noHealthyTarget || $0.kind == .failoverBlocked })
        #expect(fleet.engine.state.panic)
    }

    @Test func anOperatorNeedsTheOverrideAndItIsRecorded() throws {
        var fleet = Fleet(Self.residentRegions)
        fleet.at(0)
        let refused = #expect(throws: ControlError.self) { try fleet.command(.failover(from: "eu-west", to: "us-east", strategy: nil), at: 10) }
        #expect(refused?.code == .residency)
        #expect(refused?.message.contains("eu-west's traffic may only go to eu-central") == true)
        #expect(refused?.message.contains("--override-residency") == true)
        #expect(fleet.weights["eu-west"] == 5000)
        // With the override, the move happens, and the reason is on the event.
        let decision = try fleet.engine.apply(
            .failover(from: "eu-west", to: "us-east", strategy: nil, overrideResidency: true), by: 1000, reason: "eu-central is down for maintenance",
            signals: fleet.signals, now: t(20))
        #expect(fleet.weights == ["eu-west": 0, "eu-central": 2000, "us-east": 8000])
        let command = try #require(decision.events.first { $0.kind == .operatorCommand })
        #expect(command.fields["residency_override"] == "eu-central is down for maintenance")
        #expect(fleet.engine.state.regions["eu-west"]?.residencyOverride == "eu-central is down for maintenance")
        // enable brings the share back on the failback ramp; the override ends with the move,
        // once none of eu-west's traffic is outside its residency.
        try fleet.command(.enable("eu-west"), at: 30)
        #expect(fleet.weights["eu-west"] == 1250 && fleet.phase("eu-west") == "failing_back")
        #expect(fleet.engine.state.regions["eu-west"]?.residencyOverride != nil)
        for time in [50.0, 70, 90] { fleet.at(time) }
        #expect(fleet.engine.state.regions["eu-west"]?.residencyOverride == nil)
        #expect(fleet.weights == ["eu-west": 5000, "eu-central": 2000, "us-east": 3000])
    }

    @Test func disableAndDrainRespectResidencyToo() throws {
        var fleet = Fleet(Self.residentRegions)
        fleet.at(0)
        try fleet.command(.disable("eu-central"), at: 5)
        // eu-west's only allowed target is disabled: it cannot be disabled or drained now.
        #expect(throws: ControlError.self) { try fleet.command(.disable("eu-west"), at: 10) }
        #expect(throws: ControlError.self) { try fleet.command(.drain("eu-west"), at: 10) }
        // eu-central's share went to eu-west, the only region it may go to.
        #expect(fleet.weights == ["eu-west": 7000, "eu-central": 0, "us-east": 3000])
    }

    /// For any sequence of signals and commands (none overriding residency), no plan
    /// ever gives a region's traffic to a region it may not go to: every weight above a
    /// region's baseline comes from regions that may send it there.
    @Test(arguments: 0..<40)
    func noPlanEverBreaksResidency(_ seed: Int) throws {
        var rng = SplitMix64(state: UInt64(seed) &* 104_729 &+ 17)
        let strategies: [FailoverStrategy] = [.automatic, .gradual, .cascading, .graceful, .manual]
        var regions = [
            FailoverRegion(id: "a", priority: 1, weight: 4000, maxWeight: 6000, allowedTargets: ["b"]),
            FailoverRegion(id: "b", priority: 1, weight: 3000, maxWeight: 5000, allowedTargets: ["a", "c"]),
            FailoverRegion(id: "c", priority: 2, weight: 2000, maxWeight: 10_000),
            FailoverRegion(id: "d", priority: 3, weight: 1000, maxWeight: 3000, allowedTargets: []),
        ]
        for index in regions.indices where Bool.random(using: &rng) {
            regions[index].strategy = strategies.randomElement(using: &rng)
        }
        var settings = FailoverSettings()
        settings.strategy = strategies.randomElement(using: &rng)!
        settings.cooldown = .seconds(Int64.random(in: 0...60, using: &rng))
        settings.gradualInterval = .seconds(10)
        var engine = FailoverEngine(settings: settings, regions: regions)
        var signals = Dictionary(uniqueKeysWithValues: regions.map { ($0.id, healthy) })
        var now = 0.0
        var moves = 0
        for round in 0..<400 {
            now += Double(Int.random(in: 0...20, using: &rng))
            for region in regions where Int.random(in: 0..<4, using: &rng) == 0 {
                signals[region.id] = FailoverPropertyTests.randomSignal(&rng)
            }
            if Int.random(in: 0..<15, using: &rng) == 0 {
                let from = regions.randomElement(using: &rng)!.id
                let to = Bool.random(using: &rng) ? regions.randomElement(using: &rng)!.id : nil
                let commands: [OperatorCommand] = [
                    .failover(from: from, to: to, strategy: nil), .drain(from), .disable(from), .enable(from), .setWeights(["a": 1, "b": 2, "c": 3, "d": 4]),
                ]
                _ = try? engine.apply(commands.randomElement(using: &rng)!, by: 0, reason: "property", signals: signals, now: t(now))
            } else {
                _ = engine.step(signals, now: t(now))
            }
            let context = "seed \(seed) round \(round) t=\(now)"
            // The precomputed eligibility and the reasons `traffic` shows agree.
            let calculator = engine.calculator(signals)
            for region in regions {
                #expect(calculator.isTarget(region.id) == (calculator.exclusion(region.id) == nil), "\(region.id): \(context)")
            }
            for flow in engine.flows(signals: signals) {
                moves += 1
                let source = try #require(regions.first { $0.id == flow.from })
                #expect(source.mayMove(to: flow.to), "\(flow.from) -> \(flow.to) (\(flow.amount)): \(context)")
            }
            // The plan itself: a region with an allow-list never loses traffic it could not place.
            let plan = engine.state.plan
            #expect(plan.weights.values.reduce(0, +) == settings.total, "\(context)")
            if let d = engine.state.regions["d"], d.admin == .enabled {
                // d may go nowhere: it keeps its traffic whatever happens (unless disabled).
                #expect(plan.weight("d") > 0 || engine.state.weightOverride?["d"] == 0, "d lost its traffic: \(context)")
            }
        }
        #expect(moves > 0, "seed \(seed) never moved traffic: the property was not exercised")
    }

    // MARK: the lag guard

    static let lagRegions = [
        FailoverRegion(id: "eu", priority: 1, weight: 5000, maxWeight: 10_000),
        FailoverRegion(id: "us", priority: 1, weight: 3000, maxWeight: 10_000, maxLag: 30),
        FailoverRegion(id: "ap", priority: 2, weight: 2000, maxWeight: 10_000),
    ]

    static func lagging(_ seconds: Double?) -> RegionSignal {
        RegionSignal(status: .healthy, passing: true, capacity: 1, lag: seconds)
    }

    struct LagRow: Sendable, CustomTestStringConvertible {
        var lag: Double?
        var usTakes: Bool
        var testDescription: String { "lag \(self.lag.map { "\($0) s" } ?? "unknown")" }
    }

    @Test(arguments: [
        LagRow(lag: 0, usTakes: true), LagRow(lag: 29.9, usTakes: true), LagRow(lag: 30, usTakes: false), LagRow(lag: 45, usTakes: false),
        LagRow(lag: nil, usTakes: false),
    ])
    func aLaggingRegionTakesNoMovedTraffic(_ row: LagRow) {
        var fleet = Fleet(Self.lagRegions)
        fleet.signals["us"] = Self.lagging(row.lag)
        fleet.at(0)
        fleet.at(10, ["eu": failing])
        if row.usTakes {
            #expect(fleet.weights == ["eu": 0, "us": 8000, "ap": 2000])
        } else {
            // us keeps its own share; the tier below takes eu's.
            #expect(fleet.weights == ["eu": 0, "us": 3000, "ap": 7000])
            let why = fleet.engine.exclusions(signals: fleet.signals)["us"] ?? ""
            #expect(why.contains("replication lag"), "\(why)")
        }
    }

    @Test func failbackWaitsForTheLagToSettle() {
        var fleet = Fleet(Self.lagRegions) {
            $0.cooldown = .zero
            $0.failbackRamp = .immediate
        }
        fleet.at(0)
        fleet.at(10, ["us": failing])
        #expect(fleet.weights["us"] == 0)
        fleet.at(20, ["us": Self.lagging(120)])
        // The recovery window passes, but the replica is 2 minutes behind: us waits.
        let held = fleet.at(140)
        #expect(fleet.weights["us"] == 0)
        #expect(fleet.phase("us") == "awaiting_failback")
        #expect(held.events.contains { $0.kind == .failbackHeld && $0.message.contains("replication lag 120 s") })
        // It catches up: traffic comes back.
        fleet.at(150, ["us": Self.lagging(5)])
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
    }
}
