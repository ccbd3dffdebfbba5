import Foundation
import Testing

@testable import RegionCore

/// The failover-policy rules: graceful drains, per-region policy, set-weights,
/// manual moves in analytics, `best`, and the on-demand probe limit.
@Suite("Failover policy")
struct FailoverPolicyTests {
    // MARK: graceful

    @Test func gracefulDrainsUntilTheSessionsAreGone() throws {
        var fleet = Fleet(threeRegions) {
            $0.strategy = .graceful
            $0.drainTimeout = .seconds(60)
        }
        fleet.at(0)
        let started = fleet.at(10, ["eu": failing])
        // New traffic leaves at once; the move is not complete while sessions remain.
        #expect(fleet.weights == ["eu": 0, "us": 8000, "ap": 2000])
        #expect(fleet.phase("eu") == "draining")
        #expect(started.events.map(\.kind).contains(.failoverStarted))
        #expect(!started.events.map(\.kind).contains(.failoverCompleted))
        #expect(fleet.engine.nextDeadline() == t(70))
        // Still draining before the timeout.
        #expect(fleet.at(40).events.isEmpty)
        #expect(fleet.phase("eu") == "draining")
        // The load balancers report no session left.
        let drained = fleet.engine.sessionsDrained("eu", signals: fleet.signals, now: t(42))
        let completed = try #require(drained.events.first { $0.kind == .failoverCompleted })
        #expect(completed.fields["drained"] == "sessions")
        #expect(fleet.phase("eu") == "failed_over")
        // A second report changes nothing.
        #expect(fleet.engine.sessionsDrained("eu", signals: fleet.signals, now: t(43)).events.isEmpty)
    }

    @Test func aGracefulDrainEndsAtItsTimeoutWithSessionsStillOpen() throws {
        var fleet = Fleet(threeRegions) {
            $0.strategy = .graceful
            $0.drainTimeout = .seconds(30)
        }
        fleet.at(0)
        fleet.at(10, ["eu": failing])
        #expect(fleet.at(39).events.isEmpty)
        let completed = try #require(fleet.at(40).events.first { $0.kind == .failoverCompleted })
        #expect(completed.fields["drained"] == "timeout")
    }

    @Test func aRegionHealthyAgainWhileDrainingStartsRecovering() {
        var fleet = Fleet(threeRegions) { $0.strategy = .graceful }
        fleet.at(0)
        fleet.at(10, ["eu": failing])
        let back = fleet.at(20, ["eu": healthy])
        #expect(back.events.map(\.kind) == [.recoveryStarted])
        #expect(fleet.phase("eu") == "recovering")
        #expect(fleet.weights["eu"] == 0)
    }

    // MARK: per-region policy

    @Test func aRegionsOwnStrategyOverridesTheDefault() throws {
        var regions = threeRegions
        regions[0].strategy = .manual
        var fleet = Fleet(regions) { $0.strategy = .automatic }
        fleet.at(0)
        let eu = fleet.at(10, ["eu": failing])
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
        let blocked = try #require(eu.events.first { $0.kind == .failoverBlocked })
        #expect(blocked.fields["strategy"] == "manual")
        // us follows [failover]: automatic.
        fleet.at(20, ["us": failing])
        #expect(fleet.weights["us"] == 0)
        #expect(fleet.engine.strategy(of: "us") == .automatic)
        #expect(fleet.engine.strategy(of: "eu") == .manual)
    }

    @Test(arguments: [(Duration.seconds(10), 130.0), (Duration.seconds(300), 310.0)])
    func aRegionsOwnCooldownDecidesWhenItFailsBack(_ cooldown: Duration, _ failback: Double) {
        var regions = threeRegions
        regions[0].cooldown = cooldown
        var fleet = Fleet(regions) {
            $0.cooldown = .seconds(60)
            $0.failbackRamp = .immediate
        }
        fleet.at(0)
        fleet.at(10, ["eu": failing])
        fleet.at(10.5, ["eu": healthy])
        // The window ends at 130.5; the region's own cooldown (from 10) may end later.
        var back: Double?
        for time in stride(from: 11.0, through: 400, by: 1) {
            fleet.at(time)
            if fleet.weights["eu"] == 5000 {
                back = time
                break
            }
        }
        #expect(back == max(failback, 131))
    }

    // MARK: set-weights

    @Test(arguments: [
        (["eu": 1, "us": 2], "missing: ap"),
        (["eu": -1, "us": 2, "ap": 3], "weight of eu is -1"),
        (["eu": 1, "us": 2_000_001, "ap": 3], "weight of us is 2000001"),
        (["eu": 0, "us": 0, "ap": 0], "at least one enabled region"),
        (["eu": 1, "us": 2, "ap": 3, "mars": 4], "no region 'mars'"),
    ])
    func setWeightsRefusesWhatWouldSurpriseAnOperator(_ weights: [String: Int], _ message: String) {
        var fleet = Fleet(threeRegions)
        fleet.at(0)
        let error = #expect(throws: ControlError.self) { try fleet.command(.setWeights(weights), at: 10) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
    }

    @Test func setWeightsNamingEveryRegionReplacesTheBaselines() throws {
        var fleet = Fleet(threeRegions)
        fleet.at(0)
        try fleet.command(.setWeights(["eu": 1, "us": 2, "ap": 1]), at: 10)
        #expect(fleet.weights == ["eu": 2500, "us": 5000, "ap": 2500])
        // A disabled region need not be named.
        try fleet.command(.disable("ap"), at: 20)
        try fleet.command(.setWeights(["eu": 1, "us": 1]), at: 30)
        #expect(fleet.weights == ["eu": 5000, "us": 5000, "ap": 0])
    }

    // MARK: analytics of manual moves

    @Test func drainAndDisableAreCountedAsManualMovesAndTheirFailbackIsTimed() throws {
        var fleet = Fleet(threeRegions) { $0.failbackRamp = .immediate }
        var events = fleet.at(0).events
        events += try fleet.command(.drain("eu"), at: 10).events
        events += try fleet.command(.enable("eu"), at: 70).events
        events += try fleet.command(.disable("ap"), at: 100).events
        let report = Analytics.compute(events, now: t(160), region: "eu")
        #expect(report.failoversByTrigger["manual"] == 2)
        #expect(report.failovers == 2)
        #expect(report.failbacks == 1)
        #expect(report.timeToRecover?.count == 1)
        #expect(report.timeToRecover?.mean == 60)
        #expect(report.secondsFailedOver["eu"] == 60)
        #expect(report.secondsFailedOver["ap"] == 60)
        // eu's plan weight over time: drained, back, then a share of disabled ap's.
        #expect(report.plan?.points.map(\.weight) == [0, 5000, 6250])
        #expect(report.plan?.points.map(\.time) == [t(10), t(70), t(100)])
    }

    @Test func successRatesCountCommittedAppliedAndBlockedApart() {
        func event(_ payload: EventPayload, _ region: String?, _ time: Double) -> Event {
            Event(at: t(time), payload, region: region)
        }
        let events = [
            event(Payload.failover(.automatic, .errorRate), "eu", 10),
            event(Payload.applied("state_file"), nil, 10.1),
            event(Payload.applied("haproxy"), nil, 10.2),
            event(Payload.failover(.automatic, .latency), "us", 20),
            event(Payload.applied("state_file"), nil, 20.1),
            event(Payload.blocked(.manual), "ap", 30),
            event(.recoveryRestarted(RecoveryWindow(until: t(160), share: 0)), "eu", 40),
            event(.failbackCompleted, "eu", 200),
        ]
        let report = Analytics.compute(events, now: t(300), targets: ["state_file", "haproxy"])
        #expect(report.strategies["automatic"] == AnalyticsReport.StrategyOutcome(committed: 2, applied: 1, blocked: 0))
        #expect(report.strategies["manual"] == AnalyticsReport.StrategyOutcome(committed: 0, applied: 0, blocked: 1))
        #expect(report.recoverySuccessRate == 0.5)
        #expect(report.timeToRecover?.max == 190)
        #expect(report.secondsFailedOver == ["eu": 190, "us": 280])
    }

    // MARK: best

    @Test func bestIsTheHealthyRegionThePlanGivesMost() {
        var fleet = Fleet(threeRegions)
        fleet.at(0)
        #expect(fleet.engine.best(signals: fleet.signals).best == "eu")
        fleet.at(10, ["eu": failing])
        let report = fleet.engine.best(signals: fleet.signals)
        #expect(report.best == "us")
        #expect(report.candidates.map(\.region) == ["us", "ap", "eu"])
        #expect(report.candidates.last?.why.contains("the plan gives it nothing") == true)
        fleet.at(20, ["us": failing, "ap": failing])
        #expect(fleet.engine.best(signals: fleet.signals).best == nil)
    }

    // MARK: on-demand probes

    @Test func onDemandProbesAreSpacedPerRegion() {
        var limit = OnDemandProbeLimit(spacing: .seconds(5))
        #expect(limit.admit(now: t(0)) == nil)
        #expect(limit.admit(now: t(4.9)) == t(5))
        #expect(limit.admit(now: t(5)) == nil)
        // A clock that stepped back does not lock probes out.
        #expect(limit.admit(now: t(-100)) == nil)
    }
}
