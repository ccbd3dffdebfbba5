import Foundation
import Testing

@testable import RegionCore

/// Times as seconds from a fixed origin; the engine never reads a clock.
func t(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + seconds) }

let healthy = RegionSignal(status: .healthy, passing: true, capacity: 1)
let failing = RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)
let degradedNoTrigger = RegionSignal(status: .degraded, passing: false, trigger: nil, capacity: 1)
let healthyButFlaky = RegionSignal(status: .healthy, passing: false, capacity: 1)

struct Fleet {
    var engine: FailoverEngine
    var signals: [String: RegionSignal]

    init(_ regions: [FailoverRegion], _ configure: (inout FailoverSettings) -> Void = { _ in }) {
        var settings = FailoverSettings()
        configure(&settings)
        self.engine = FailoverEngine(settings: settings, regions: regions)
        self.signals = Dictionary(uniqueKeysWithValues: regions.map { ($0.id, healthy) })
    }

    /// Sets signals and runs one round at `time`.
    @discardableResult
    mutating func at(_ time: Double, _ changes: [String: RegionSignal] = [:]) -> Decision {
        self.signals.merge(changes) { _, new in new }
        return self.engine.step(self.signals, now: t(time))
    }

    @discardableResult
    mutating func command(_ command: OperatorCommand, at time: Double) throws -> Decision {
        try self.engine.apply(command, by: 0, reason: "test", signals: self.signals, now: t(time))
    }

    var weights: [String: Int] { self.engine.state.plan.weights }
    func phase(_ id: String) -> String { self.engine.state.regions[id]!.phase.name }
}

let threeRegions = [
    FailoverRegion(id: "eu", priority: 1, weight: 5000, maxWeight: 10_000),
    FailoverRegion(id: "us", priority: 1, weight: 3000, maxWeight: 10_000),
    FailoverRegion(id: "ap", priority: 2, weight: 2000, maxWeight: 10_000),
]

@Suite("TrafficPlan")
struct TrafficPlanTests {
    @Test(arguments: [
        ([("a", 1.0), ("b", 1.0), ("c", 1.0)], 10_000, ["a": 3334, "b": 3333, "c": 3333]),
        ([("a", 2.0), ("b", 1.0)], 3, ["a": 2, "b": 1]),
        ([("a", 0.0), ("b", 5.0)], 10_000, ["a": 0, "b": 10_000]),
        ([("a", 0.3333), ("b", 0.3333), ("c", 0.3334)], 100, ["a": 33, "b": 33, "c": 34]),
    ])
    func apportionSumsToTheTotal(_ shares: [(String, Double)], _ total: Int, _ expected: [String: Int]) {
        let plan = TrafficPlan.apportion(shares, total: total)
        #expect(plan.weights == expected)
        #expect(plan.weights.values.reduce(0, +) == total)
    }
}

@Suite("FailoverEngine")
struct FailoverEngineTests {
    @Test func startsFromTheBaseline() {
        let fleet = Fleet(threeRegions)
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
    }

    @Test func automaticMovesTheWholeShareToTheBestTierByCapacity() {
        let regions = [
            FailoverRegion(id: "eu", priority: 1, weight: 4000, maxWeight: 10_000),
            FailoverRegion(id: "us", priority: 1, weight: 3000, maxWeight: 10_000),
            FailoverRegion(id: "sa", priority: 1, weight: 1000, maxWeight: 10_000),
            FailoverRegion(id: "ap", priority: 2, weight: 2000, maxWeight: 10_000),
        ]
        var fleet = Fleet(regions)
        fleet.signals["sa"] = RegionSignal(status: .healthy, passing: true, capacity: 0.5)
        let decision = fleet.at(0, ["eu": failing])
        // 4000 split by weight x capacity: us 3000 x 1, sa 1000 x 0.5.
        #expect(fleet.weights == ["eu": 0, "us": 6429, "sa": 1571, "ap": 2000])
        #expect(decision.planChanged)
        let event = try! #require(decision.events.first)
        #expect(event.kind == .failoverStarted)
        #expect(event.region == "eu")
        #expect(event.fields["trigger"] == "error_rate")
        #expect(event.fields["strategy"] == "automatic")
        #expect(event.fields["plan"] == "eu=0 us=6429 sa=1571 ap=2000")
    }

    @Test func aDegradedRegionWithoutATriggerKeepsItsTraffic() {
        var fleet = Fleet(threeRegions)
        let decision = fleet.at(0, ["eu": degradedNoTrigger])
        #expect(decision.events.isEmpty)
        #expect(fleet.weights["eu"] == 5000)
    }

    @Test func theRecoveryWindowRestartsOnAFailedEvaluationAt119Seconds() {
        var fleet = Fleet(threeRegions) {
            $0.cooldown = .zero
            $0.failbackRamp = .immediate
        }
        fleet.at(0, ["eu": failing])
        fleet.at(1, ["eu": healthy])
        #expect(fleet.phase("eu") == "recovering")
        fleet.at(119, ["eu": healthyButFlaky])  // one failed evaluation, status still healthy
        let restarted = fleet.at(120, ["eu": healthy])
        #expect(fleet.phase("eu") == "recovering")
        #expect(restarted.events.isEmpty)
        fleet.at(121)
        #expect(fleet.weights["eu"] == 0, "the first window would have ended at 121 s")
        fleet.at(238.9)
        #expect(fleet.weights["eu"] == 0)
        let back = fleet.at(239)
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
        #expect(back.events.map(\.kind) == [.recoveryCompleted, .failbackCompleted])
    }

    @Test func aFullWindowOfHealthFailsBackAtExactly120Seconds() {
        var fleet = Fleet(threeRegions) {
            $0.cooldown = .zero
            $0.failbackRamp = .immediate
        }
        fleet.at(0, ["eu": failing])
        fleet.at(10, ["eu": healthy])
        fleet.at(129.99)
        #expect(fleet.weights["eu"] == 0)
        fleet.at(130)
        #expect(fleet.weights["eu"] == 5000)
    }

    @Test func theCooldownHoldsFailbackAndBlocksAFlappingRegion() {
        var fleet = Fleet(threeRegions) {
            $0.cooldown = .seconds(300)
            $0.failbackRamp = .immediate
        }
        fleet.at(0, ["eu": failing])
        #expect(fleet.engine.state.regions["eu"]?.cooldownUntil == t(300))
        fleet.at(5, ["eu": healthy])
        let held = fleet.at(125)
        #expect(held.events.map(\.kind) == [.recoveryCompleted, .failbackHeld])
        #expect(fleet.weights["eu"] == 0)
        // Flapping during the hold restarts the window; nothing moves.
        fleet.at(200, ["eu": failing])
        fleet.at(201, ["eu": healthy])
        #expect(fleet.weights["eu"] == 0)
        fleet.at(321)
        #expect(fleet.weights["eu"] == 5000)
        #expect(fleet.phase("eu") == "serving")
    }

    @Test func gradualStepsAwayAndRampsBack() {
        var fleet = Fleet(threeRegions) {
            $0.strategy = .gradual
            $0.gradualStep = 0.25
            $0.gradualInterval = .seconds(30)
            $0.cooldown = .zero
        }
        var shares: [Int] = []
        fleet.at(0, ["eu": failing]); shares.append(fleet.weights["eu"]!)
        fleet.at(29); shares.append(fleet.weights["eu"]!)
        for time in [30.0, 60, 90] { fleet.at(time); shares.append(fleet.weights["eu"]!) }
        #expect(shares == [3750, 3750, 2500, 1250, 0])
        #expect(fleet.phase("eu") == "failed_over")
        fleet.at(100, ["eu": healthy])
        var back: [Int] = []
        for time in [220.0, 250, 280, 310] { fleet.at(time); back.append(fleet.weights["eu"]!) }
        #expect(back == [1250, 2500, 3750, 5000])
        #expect(fleet.phase("eu") == "serving")
        #expect(fleet.weights.values.reduce(0, +) == 10_000)
    }

    /// eu is degraded with a trigger firing: once only degraded regions are left, none is
    /// better than eu (the ladder), so its move has no target.
    @Test(arguments: [false, true])
    func gradualHaltsOrReversesWhenNoHealthyTargetIsLeft(_ reverse: Bool) {
        var fleet = Fleet(threeRegions) {
            $0.strategy = .gradual
            $0.gradualReverse = reverse
        }
        fleet.at(0, ["eu": RegionSignal(status: .degraded, passing: false, trigger: .errorRate, capacity: 1)])
        #expect(fleet.weights["eu"] == 3750)
        let halted = fleet.at(30, ["us": degradedNoTrigger, "ap": degradedNoTrigger])
        #expect(halted.events.contains { $0.kind == .failoverHalted })
        #expect(fleet.weights["eu"] == (reverse ? 5000 : 3750))
        #expect(fleet.phase("eu") == (reverse ? "serving" : "failing_over"))
    }

    @Test func cascadingFillsTheChainBySpareCapacityAndSpills() {
        let regions = [
            FailoverRegion(id: "eu", priority: 1, weight: 6000, maxWeight: 10_000),
            FailoverRegion(id: "us", priority: 2, weight: 2000, maxWeight: 4000),
            FailoverRegion(id: "ap", priority: 3, weight: 2000, maxWeight: 10_000),
        ]
        var fleet = Fleet(regions) { $0.strategy = .cascading }
        fleet.signals["us"] = RegionSignal(status: .healthy, passing: true, capacity: 0.75)
        fleet.at(0, ["eu": failing])
        // us can take 4000 x 0.75 = 3000 in all, i.e. 1000 more; the other 5000 spill to ap.
        #expect(fleet.weights == ["eu": 0, "us": 3000, "ap": 7000])
    }

    @Test func cascadingContinuesWhenTheNextRegionFailsToo() {
        let regions = [
            FailoverRegion(id: "eu", priority: 1, weight: 6000, maxWeight: 10_000),
            FailoverRegion(id: "us", priority: 2, weight: 2000, maxWeight: 10_000),
            FailoverRegion(id: "ap", priority: 3, weight: 2000, maxWeight: 3000),
        ]
        var fleet = Fleet(regions) { $0.strategy = .cascading }
        fleet.at(0, ["eu": failing])
        #expect(fleet.weights == ["eu": 0, "us": 8000, "ap": 2000])
        let cascade = fleet.at(1, ["us": failing])
        // ap alone can take only 1000 more: the rest has nowhere within capacity; it goes to ap anyway, with an alert.
        #expect(fleet.weights == ["eu": 0, "us": 0, "ap": 10_000])
        #expect(cascade.events.contains { $0.kind == .capacityExhausted })
    }

    @Test func manualStrategyOnlyAlertsOnceAndOperatorsMoveTraffic() throws {
        var fleet = Fleet(threeRegions) {
            $0.strategy = .manual
            $0.failbackRamp = .immediate
        }
        let first = fleet.at(0, ["eu": failing])
        #expect(first.events.map(\.kind) == [.failoverBlocked])
        #expect(first.events[0].message.contains("strategy is manual"))
        #expect(fleet.at(2).events.isEmpty, "the alert is raised once, not every round")
        #expect(fleet.weights["eu"] == 5000)
        let moved = try fleet.command(.failover(from: "eu", to: "ap", strategy: nil), at: 5)
        #expect(fleet.weights == ["eu": 0, "us": 3000, "ap": 7000])
        #expect(moved.events.first?.kind == .operatorCommand)
        #expect(moved.events.first?.fields["uid"] == "0")
        #expect(moved.events.first?.fields["target"] == "ap")
        // A manual failover holds until enabled, even once healthy.
        fleet.at(10, ["eu": healthy])
        fleet.at(500)
        #expect(fleet.weights["eu"] == 0)
        try fleet.command(.enable("eu"), at: 501)
        #expect(fleet.weights["eu"] == 5000)
    }

    @Test func aPinFreezesAutomaticMovesUntilItExpires() throws {
        var fleet = Fleet(threeRegions)
        try fleet.command(.pin(ttl: .seconds(60)), at: 0)
        let blocked = fleet.at(10, ["eu": failing])
        #expect(blocked.events.first?.kind == .failoverBlocked)
        #expect(fleet.weights["eu"] == 5000)
        let expired = fleet.at(60)
        #expect(expired.events.map(\.kind) == [.pinExpired, .failoverStarted])
        #expect(fleet.weights["eu"] == 0)
    }

    @Test func unpinLiftsThePinAtOnce() throws {
        var fleet = Fleet(threeRegions)
        try fleet.command(.pin(ttl: nil), at: 0)
        fleet.at(1, ["eu": failing])
        try fleet.command(.unpin, at: 3)
        fleet.at(4)
        #expect(fleet.weights["eu"] == 0)
        #expect(throws: ControlError.self) { _ = try fleet.command(.unpin, at: 5) }
    }

    /// Every region failing from the start: each is blocked, and one `no_healthy_target`
    /// alert (crit) names them all; the plan stays. (It used to be only the blocks.)
    @Test func whenNothingIsHealthyTheLastPlanStaysAndThatIsAnAlert() {
        var fleet = Fleet(threeRegions)
        let all = fleet.at(0, ["eu": failing, "us": failing, "ap": failing])
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
        #expect(all.events.map(\.kind) == [.failoverBlocked, .failoverBlocked, .failoverBlocked, .noHealthyTarget])
        #expect(all.events.first?.fields["reason"] == "no healthy region can take its traffic (us: not healthy; ap: not healthy)")
        #expect(all.events.last?.fields["regions"] == "eu,us,ap")
        #expect(all.events.last?.kind.priority == 2)
        #expect(fleet.engine.state.panic)
        #expect(fleet.engine.stranded(signals: fleet.signals) == ["eu", "us", "ap"])
        // Said once, not every round.
        #expect(fleet.at(1).events.isEmpty)
        // One region mends: the alarm clears and the failing regions' traffic moves to it.
        let mended = fleet.at(2, ["us": healthy])
        #expect(mended.events.map(\.kind).contains(.panicCleared))
        #expect(!fleet.engine.state.panic)
        #expect(fleet.weights == ["eu": 0, "us": 10_000, "ap": 0])
    }

    /// A degraded region beats a dead one (the ladder, `LadderTests`): when every target
    /// degrades, a dead region's traffic stays on them, no panic; a healthy one takes it back.
    @Test func aDeadRegionsTrafficStaysOnDegradedRegionsUntilAHealthyOneCanTakeIt() {
        var fleet = Fleet(threeRegions)
        fleet.at(0, ["eu": failing])
        #expect(fleet.weights == ["eu": 0, "us": 8000, "ap": 2000])
        let degraded = fleet.at(1, ["us": degradedNoTrigger, "ap": degradedNoTrigger])
        #expect(degraded.events.isEmpty && !fleet.engine.state.panic)
        #expect(fleet.weights == ["eu": 0, "us": 8000, "ap": 2000])
        #expect(fleet.engine.placements(signals: fleet.signals)["eu"]?.rung == .degraded)
        let healthier = fleet.at(3, ["ap": healthy])
        #expect(healthier.events.map(\.kind) == [.planChanged])
        #expect(fleet.weights == ["eu": 0, "us": 3000, "ap": 7000])
    }

    @Test func disabledRegionsGetNothingAndEnableBringsThemBack() throws {
        var fleet = Fleet(threeRegions) { $0.failbackRamp = .immediate }
        try fleet.command(.disable("ap"), at: 0)
        #expect(fleet.weights["ap"] == 0)
        #expect(fleet.weights.values.reduce(0, +) == 10_000)
        fleet.at(1, ["eu": failing])
        #expect(fleet.weights == ["eu": 0, "us": 10_000, "ap": 0])
        try fleet.command(.enable("ap"), at: 2)
        #expect(fleet.weights["ap"] == 2000)
    }

    @Test func disableWinsEvenInAPanic() throws {
        var fleet = Fleet(threeRegions)
        fleet.at(0, ["eu": failing, "ap": failing])
        #expect(fleet.weights == ["eu": 0, "us": 10_000, "ap": 0])
        fleet.at(1, ["us": failing])
        #expect(fleet.engine.state.panic)
        try fleet.command(.disable("us"), at: 2)
        #expect(fleet.weights["us"] == 0, "an operator's disable beats keeping the last plan")
        #expect(fleet.weights.values.reduce(0, +) == 10_000)
        try fleet.command(.disable("eu"), at: 3)
        #expect(throws: ControlError.self) { try fleet.command(.disable("ap"), at: 4) }
    }

    @Test func drainFollowsTheStrategyAndHolds() throws {
        var fleet = Fleet(threeRegions) { $0.strategy = .gradual }
        try fleet.command(.drain("us"), at: 0)
        #expect(fleet.weights["us"] == 2250)
        fleet.at(30); fleet.at(60); fleet.at(90)
        #expect(fleet.weights["us"] == 0)
        fleet.at(1000)
        #expect(fleet.weights["us"] == 0, "a drained region stays drained while healthy")
    }

    @Test func setWeightsReplacesTheBaseline() throws {
        var fleet = Fleet(threeRegions)
        try fleet.command(.setWeights(["eu": 1, "us": 1, "ap": 2]), at: 0)
        #expect(fleet.weights == ["eu": 2500, "us": 2500, "ap": 5000])
        #expect(throws: ControlError.self) { _ = try fleet.command(.setWeights(["mars": 1]), at: 1) }
        #expect(throws: ControlError.self) { _ = try fleet.command(.setWeights(["eu": 0, "us": 0, "ap": 0]), at: 1) }
    }

    @Test func manualFailbackWaitsForAnOperator() throws {
        var fleet = Fleet(threeRegions) {
            $0.failback = .manual
            $0.cooldown = .zero
            $0.failbackRamp = .immediate
        }
        fleet.at(0, ["eu": failing])
        fleet.at(1, ["eu": healthy])
        let held = fleet.at(121)
        #expect(held.events.map(\.kind) == [.recoveryCompleted, .failbackHeld])
        fleet.at(10_000)
        #expect(fleet.weights["eu"] == 0)
        try fleet.command(.enable("eu"), at: 10_001)
        #expect(fleet.weights["eu"] == 5000)
    }

    @Test func aRestoredEngineWaitsForEveryStatusBeforeDeciding() {
        var fleet = Fleet(threeRegions) { $0.cooldown = .zero }
        fleet.at(0, ["eu": failing])
        var restarted = FailoverEngine(settings: fleet.engine.settings, regions: threeRegions, state: fleet.engine.state)
        let unknown = RegionSignal(status: .unknown, passing: false)
        let early = restarted.step(["eu": failing, "us": unknown, "ap": healthy], now: t(10))
        #expect(early.events.isEmpty, "no panic and no churn while us is unknown")
        #expect(early.plan == fleet.engine.state.plan)
        let known = restarted.step(["eu": failing, "us": healthy, "ap": healthy], now: t(11))
        #expect(known.plan == fleet.engine.state.plan)
        #expect(restarted.warm)
    }

    /// The timelines in docs/failover.md, row by row.
    @Test func theDocumentedTimelinesHold() {
        var gradual = Fleet(threeRegions) {
            $0.strategy = .gradual
            $0.gradualStep = 0.25
            $0.gradualInterval = .seconds(30)
        }
        gradual.at(10, ["eu": failing])
        #expect(gradual.weights == ["eu": 3750, "us": 4250, "ap": 2000])
        gradual.at(40)
        #expect(gradual.weights == ["eu": 2500, "us": 5500, "ap": 2000])
        gradual.at(70, ["us": degradedNoTrigger])
        #expect(gradual.weights == ["eu": 1250, "us": 3000, "ap": 5750])
        gradual.at(100)
        #expect(gradual.weights == ["eu": 0, "us": 3000, "ap": 7000])

        var cascading = Fleet([
            FailoverRegion(id: "eu", priority: 1, weight: 5000, maxWeight: 10_000),
            FailoverRegion(id: "us", priority: 1, weight: 3000, maxWeight: 4000),
            FailoverRegion(id: "ap", priority: 2, weight: 2000, maxWeight: 10_000),
        ]) { $0.strategy = .cascading }
        cascading.signals["us"] = RegionSignal(status: .healthy, passing: true, capacity: 0.75)
        cascading.at(10, ["eu": failing])
        #expect(cascading.weights == ["eu": 0, "us": 3000, "ap": 7000])
        cascading.at(20, ["us": failing])
        #expect(cascading.weights == ["eu": 0, "us": 0, "ap": 10_000])

        var automatic = Fleet(threeRegions) { $0.failbackRamp = .immediate }
        automatic.at(10, ["eu": failing])
        automatic.at(40, ["eu": healthy])
        automatic.at(100, ["eu": healthyButFlaky])
        automatic.at(101, ["eu": healthy])
        automatic.at(219)
        #expect(automatic.weights["eu"] == 0)
        automatic.at(220)
        #expect(automatic.weights == ["eu": 5000, "us": 3000, "ap": 2000])
    }

    @Test func aHealthyRegionInItsRecoveryWindowIsReportedRecovering() {
        let brief = RegionBrief(
            id: "eu", status: .healthy, since: nil, priority: 1, weight: 1, enabled: true, endpoints: 1, endpointsPassing: 1, errorRate: 0,
            latencyP95Ms: nil, capacity: 1, reason: "ok")
        let until = Date(timeIntervalSince1970: 1_800_000_120)
        let recovering = brief.inPhase(.recovering(since: until.addingTimeInterval(-120), until: until))
        #expect(recovering.status == .recovering)
        #expect(recovering.reason.contains("traffic returns"))
        #expect(brief.inPhase(.serving).status == .healthy)
        var unhealthy = brief
        unhealthy.status = .unhealthy
        #expect(unhealthy.inPhase(.recovering(since: until, until: until)).status == .unhealthy)
    }

    @Test func stateSurvivesEncodingAndTheWindowKeepsItsStart() throws {
        var fleet = Fleet(threeRegions) {
            $0.cooldown = .zero
            $0.failbackRamp = .immediate
        }
        fleet.at(0, ["eu": failing])
        fleet.at(50, ["eu": healthy])
        let data = try JSONEncoder().encode(fleet.engine.state)
        let restored = try JSONDecoder().decode(EngineState.self, from: data)
        #expect(restored == fleet.engine.state)
        var again = FailoverEngine(settings: fleet.engine.settings, regions: threeRegions, state: restored)
        #expect(again.nextDeadline() == t(170))
        _ = again.step(fleet.signals, now: t(60))
        #expect(again.step(fleet.signals, now: t(169)).planChanged == false)
        #expect(again.step(fleet.signals, now: t(170)).plan.weights["eu"] == 5000)
    }
}
