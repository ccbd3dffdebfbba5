import Foundation
import Testing

@testable import RegionCore

/// A degraded region beats a dead one (issue 26): traffic moves only toward a strictly
/// better status, healthy targets first, degraded ones (not failing themselves) when no
/// healthy one can take an unhealthy region's traffic, never onto a region as bad.
@Suite("failover ladder: healthy, then degraded, never worse")
struct LadderTests {
    static let slow = RegionSignal(status: .degraded, passing: false, trigger: nil, capacity: 1)
    static let slowAndFailing = RegionSignal(status: .degraded, passing: false, trigger: .errorRate, capacity: 1)
    static let slowWithLag = RegionSignal(status: .degraded, passing: false, trigger: nil, capacity: 1, lag: 30)

    struct Case: Sendable, CustomTestStringConvertible {
        var why: String
        var regions: [FailoverRegion] = threeRegions
        var signals: [String: RegionSignal]
        var weights: [String: Int]
        var panic: Bool
        var rung: TargetRung?
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        Case(
            why: "eu dead, us slow, ap dead: eu's and ap's shares go to slow us, the best available",
            signals: ["eu": failing, "us": slow, "ap": failing], weights: ["eu": 0, "us": 10_000, "ap": 0], panic: false, rung: .degraded),
        Case(
            why: "a healthy region comes first: eu's share goes to ap, not to slow us",
            signals: ["eu": failing, "us": slow, "ap": healthy], weights: ["eu": 0, "us": 3000, "ap": 7000], panic: false, rung: .healthy),
        Case(
            why: "never onto a region as bad: eu degraded and failing keeps its share beside slow us",
            signals: ["eu": slowAndFailing, "us": slow, "ap": failing], weights: ["eu": 5000, "us": 5000, "ap": 0], panic: true, rung: nil),
        Case(
            why: "a degraded region that is failing itself takes nothing",
            signals: ["eu": failing, "us": slowAndFailing, "ap": failing], weights: ["eu": 5000, "us": 3000, "ap": 2000], panic: true, rung: nil),
        Case(
            why: "residency holds on the second rung: eu may go to ap only, which is dead",
            regions: [
                FailoverRegion(id: "eu", priority: 1, weight: 5000, maxWeight: 10_000, allowedTargets: ["ap"]),
                FailoverRegion(id: "us", priority: 1, weight: 3000, maxWeight: 10_000),
                FailoverRegion(id: "ap", priority: 2, weight: 2000, maxWeight: 10_000),
            ],
            signals: ["eu": failing, "us": slow, "ap": failing], weights: ["eu": 5000, "us": 5000, "ap": 0], panic: true, rung: nil),
        Case(
            why: "the lag guard holds on the second rung: slow us lags 30 s, max_lag 10 s",
            regions: [
                FailoverRegion(id: "eu", priority: 1, weight: 5000, maxWeight: 10_000),
                FailoverRegion(id: "us", priority: 1, weight: 3000, maxWeight: 10_000, maxLag: 10),
                FailoverRegion(id: "ap", priority: 2, weight: 2000, maxWeight: 10_000),
            ],
            signals: ["eu": failing, "us": slowWithLag, "ap": failing], weights: ["eu": 5000, "us": 3000, "ap": 2000], panic: true, rung: nil),
        Case(
            why: "spare capacity decides among degraded targets, max_weight included: us fills to 6000, ap takes the rest",
            regions: [
                FailoverRegion(id: "eu", priority: 1, weight: 5000, maxWeight: 10_000),
                FailoverRegion(id: "us", priority: 1, weight: 3000, maxWeight: 6000),
                FailoverRegion(id: "ap", priority: 2, weight: 2000, maxWeight: 10_000),
            ],
            signals: ["eu": failing, "us": slow, "ap": slow], weights: ["eu": 0, "us": 6000, "ap": 4000], panic: false, rung: .degraded),
    ])
    func theLadder(_ c: Case) {
        var fleet = Fleet(c.regions)
        fleet.at(0)
        let decision = fleet.at(10, c.signals)
        #expect(fleet.weights == c.weights)
        #expect(fleet.engine.state.panic == c.panic)
        let started = decision.events.first { $0.kind == .failoverStarted && $0.region == "eu" }
        if let rung = c.rung {
            guard case .failoverStarted(let start)? = started?.payload else {
                Issue.record("no failover of eu: \(decision.events.map(\.message))")
                return
            }
            #expect((start.rung ?? .healthy) == rung)
            #expect((started?.message.contains("degraded: best available") ?? false) == (rung == .degraded), "\(started?.message ?? "")")
        } else {
            #expect(started == nil)
            #expect(decision.events.contains { $0.kind == .noHealthyTarget })
        }
    }

    /// The issue's timeline: eu down, us slow: eu's share goes to us. us turns healthy:
    /// nothing moves back until eu recovers, and `traffic` says where eu's share went.
    @Test func aSlowRegionHoldsADeadOnesShareUntilItRecovers() throws {
        var fleet = Fleet([
            FailoverRegion(id: "eu", priority: 1, weight: 6000, maxWeight: 10_000), FailoverRegion(id: "us", priority: 1, weight: 4000, maxWeight: 10_000),
        ]) {
            $0.recoveryWindow = .seconds(120)
            $0.cooldown = .zero
            $0.failbackRamp = .immediate
        }
        fleet.at(0)
        fleet.at(10, ["eu": failing, "us": Self.slow])
        #expect(fleet.weights == ["eu": 0, "us": 10_000])
        let placed = try #require(fleet.engine.placements(signals: fleet.signals)["eu"])
        #expect(placed == FailoverEngine.Placement(targets: ["us"], rung: .degraded))
        let report = TrafficReport(engine: fleet.engine, signals: fleet.signals, recording: true, targets: [])
        #expect(report.regions.first?.movedTo == ["us"] && report.regions.first?.movedRung == .degraded)
        // us is healthy again: eu's share stays where it is.
        #expect(fleet.at(20, ["us": healthy]).events.isEmpty)
        #expect(fleet.weights == ["eu": 0, "us": 10_000])
        #expect(fleet.engine.placements(signals: fleet.signals)["eu"]?.rung == .healthy)
        // eu recovers: the window, then failback.
        #expect(fleet.at(30, ["eu": healthy]).events.map(\.kind) == [.recoveryStarted])
        let back = fleet.at(150)
        #expect(back.events.map(\.kind) == [.recoveryCompleted, .failbackCompleted])
        #expect(fleet.weights == ["eu": 6000, "us": 4000])
    }

    /// An operator's drain of a healthy region never sends its users to a slow one.
    @Test func aDrainIsNeverOntoARegionWorseThanTheOneItLeaves() {
        var fleet = Fleet(threeRegions)
        fleet.at(0, ["us": Self.slow, "ap": Self.slow])
        #expect(throws: ControlError.self) { try fleet.command(.drain("eu"), at: 1) }
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
    }
}
