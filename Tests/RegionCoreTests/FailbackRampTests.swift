import Foundation
import Testing

@testable import RegionCore

/// Failback with a ramp for every strategy (issue 26): a recovered region gets its share
/// back in steps, so cold caches and connection pools warm up on part of the load.
@Suite("failback ramp")
struct FailbackRampTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var why: String
        var strategy: FailoverStrategy
        var ramp: FailbackRamp
        var regionRamp: FailbackRamp?
        /// eu's weight at 190 s (the window's end), 210, 230, 250.
        var weights: [Int]
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        Case(why: "the default, 4 steps over 60 s: 25% at once, then 25% every 20 s", strategy: .automatic, ramp: .standard, weights: [1250, 2500, 3750, 5000]),
        Case(why: "cascading ramps too", strategy: .cascading, ramp: .standard, weights: [1250, 2500, 3750, 5000]),
        Case(why: "graceful ramps too", strategy: .graceful, ramp: .standard, weights: [1250, 2500, 3750, 5000]),
        Case(why: "2 steps over 20 s", strategy: .automatic, ramp: FailbackRamp(steps: 2, duration: .seconds(20)), weights: [2500, 5000, 5000, 5000]),
        Case(why: "failback_ramp = \"0s\": all at once", strategy: .automatic, ramp: .immediate, weights: [5000, 5000, 5000, 5000]),
        Case(
            why: "a region's own ramp wins over [failover]'s", strategy: .automatic, ramp: .standard, regionRamp: .immediate,
            weights: [5000, 5000, 5000, 5000]),
    ])
    func aRecoveredRegionComesBackOnItsRamp(_ c: Case) {
        var regions = threeRegions
        regions[0].failbackRamp = c.regionRamp
        var fleet = Fleet(regions) {
            $0.strategy = c.strategy
            $0.cooldown = .zero
            $0.recoveryWindow = .seconds(120)
            $0.failbackRamp = c.ramp
        }
        fleet.at(0, ["eu": failing])
        fleet.at(60)  // graceful: drained by its timeout
        fleet.at(70, ["eu": healthy])  // the window ends at 190
        var seen: [Int] = []
        for time in [190.0, 210, 230, 250] {
            fleet.at(time)
            seen.append(fleet.weights["eu"]!)
        }
        #expect(seen == c.weights)
        #expect(fleet.weights.values.reduce(0, +) == 10_000)
        if c.weights.last == 5000 { #expect(fleet.phase("eu") == "serving") }
    }

    /// A region that fails during its ramp goes back to failed over at once, and its
    /// recovery window starts over once it is healthy again.
    @Test func aRegionThatFailsDuringItsRampLosesItAllAtOnce() throws {
        var fleet = Fleet(threeRegions) {
            $0.cooldown = .zero
            $0.recoveryWindow = .seconds(120)
        }
        fleet.at(0, ["eu": failing])
        fleet.at(10, ["eu": healthy])
        let ramp = fleet.at(130)
        #expect(ramp.events.map(\.kind) == [.recoveryCompleted, .failbackStep])
        #expect(fleet.weights["eu"] == 1250 && fleet.phase("eu") == "failing_back")
        let traffic = TrafficReport(engine: fleet.engine, signals: fleet.signals, recording: true, targets: [])
        #expect(traffic.regions[0].nextStep == t(150) && traffic.regions[0].share == 0.25, "traffic shows the ramp")
        let lost = fleet.at(140, ["eu": failing])
        #expect(lost.events.map(\.kind) == [.failoverStarted])
        #expect(fleet.weights["eu"] == 0 && fleet.phase("eu") == "failed_over")
        #expect(fleet.at(150, ["eu": healthy]).events.map(\.kind) == [.recoveryStarted])
        #expect(fleet.engine.nextDeadline() == t(270), "a new window, from 150")
    }

    /// A ramp never strands users: ap is down, eu is on its ramp, then us fails. eu is the
    /// only healthy region, so its ramp ends at once and it takes us's traffic in the same
    /// round; without that, us kept its traffic (`no_healthy_target`). `make chaos` seeds
    /// 1252840461 and 247327317.
    @Test func aRampEndsAtOnceWhenAFailingRegionHasNowhereElseToGo() throws {
        var fleet = Fleet(threeRegions) {
            $0.cooldown = .zero
            $0.recoveryWindow = .seconds(120)
        }
        fleet.at(0, ["ap": failing, "eu": failing])
        fleet.at(10, ["eu": healthy])
        fleet.at(130)
        #expect(fleet.phase("eu") == "failing_back" && fleet.weights["eu"] == 1250)
        let moved = fleet.at(140, ["us": failing])
        #expect(moved.events.map(\.kind) == [.failbackCompleted, .failoverStarted], "\(moved.events.map(\.message))")
        #expect(moved.events.first?.message.contains("us's traffic must move") == true)
        #expect(fleet.weights == ["eu": 10_000, "us": 0, "ap": 0])
        #expect(!fleet.engine.state.panic)
        // A ramp with somewhere else to go is left alone.
        var calm = Fleet(threeRegions) {
            $0.cooldown = .zero
            $0.recoveryWindow = .seconds(120)
        }
        calm.at(0, ["eu": failing])
        calm.at(10, ["eu": healthy])
        calm.at(130)
        let other = calm.at(140, ["us": failing])
        #expect(other.events.map(\.kind) == [.failoverStarted])
        #expect(calm.phase("eu") == "failing_back")
    }

    /// The gradual strategy keeps its own step and interval for failback.
    @Test func gradualRampsWithItsOwnStep() {
        var fleet = Fleet(threeRegions) {
            $0.strategy = .gradual
            $0.gradualStep = 0.5
            $0.gradualInterval = .seconds(10)
            $0.cooldown = .zero
            $0.recoveryWindow = .seconds(20)
            $0.failbackRamp = FailbackRamp(steps: 10, duration: .seconds(100))
        }
        fleet.at(0, ["eu": failing])
        fleet.at(10)
        fleet.at(20, ["eu": healthy])
        fleet.at(40)
        #expect(fleet.weights["eu"] == 2500)
        fleet.at(50)
        #expect(fleet.weights["eu"] == 5000)
    }

    @Test(arguments: [
        ("failback_ramp = \"0s\"", FailbackRamp.immediate),
        ("failback_ramp = \"30s\"", FailbackRamp(steps: 4, duration: .seconds(30))),
        ("failback_ramp = \"30s\"\nfailback_ramp_steps = 3", FailbackRamp(steps: 3, duration: .seconds(30))),
        ("failback_ramp_steps = 2", FailbackRamp(steps: 2, duration: .seconds(60))),
        ("", FailbackRamp.standard),
    ])
    func theRampReadsFromTheConfig(_ keys: String, _ expected: FailbackRamp) throws {
        let text = "[failover]\n\(keys)\n[[region]]\nid = \"a\"\nweight = 1\n  [region.failover]\n  failback_ramp = \"0s\"\n  [[region.endpoint]]\n  tcp = \"db:1\"\n[[region]]\nid = \"b\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"db:2\""
        let config = try ConfigLoader.parse(text, file: "regiond.toml")
        #expect(config.failover.failbackRamp == expected)
        #expect(config.failoverRegions[0].failbackRamp == .immediate)
        #expect(config.failoverRegions[1].failbackRamp == nil)
    }

    @Test(arguments: [
        ("failback_ramp = \"2d\"", "failover.failback_ramp"),
        ("failback_ramp_steps = 1", "failover.failback_ramp_steps"),
        ("failback_ramp_steps = 1000", "failover.failback_ramp_steps"),
    ])
    func aBadRampNamesItsKey(_ keys: String, _ key: String) {
        do {
            _ = try ConfigLoader.parse("[failover]\n\(keys)\n[[region]]\nid = \"a\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"db:1\"", file: "regiond.toml")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.issues.contains { $0.key == key && $0.line == 2 }, "\(error.description)")
        }
    }
}
