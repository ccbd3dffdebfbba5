import Foundation
import Testing

@testable import RegionCore

@Suite("Simulation")
struct SimulationTests {
    @Test(arguments: [
        ("eu fails", Duration.zero, Simulation.Action.status("eu", .unhealthy, passing: false, trigger: nil)),
        ("us degrades at +60s", .seconds(60), .status("us", .degraded, passing: false, trigger: nil)),
        ("us degrades by latency at +1m", .seconds(60), .status("us", .degraded, passing: false, trigger: .latency)),
        ("eu recovers at +2m", .seconds(120), .status("eu", .healthy, passing: true, trigger: nil)),
        ("eu flaps at 90s", .seconds(90), .flap("eu")),
        ("eu lags 45s", .zero, .lag("eu", 45)),
        ("ap capacity 40%", .zero, .capacity("ap", 0.4)),
        ("failover eu to ap strategy gradual at +5s", .seconds(5), .command(.failover(from: "eu", to: "ap", strategy: .gradual))),
        ("drain eu", .zero, .command(.drain("eu"))),
        ("enable eu at +168h", .seconds(7 * 86_400), .command(.enable("eu"))),
        ("disable ap", .zero, .command(.disable("ap"))),
        ("pin", .zero, .command(.pin(ttl: nil))),
        ("unpin at +1h", .seconds(3600), .command(.unpin)),
    ])
    func stepsRead(_ text: String, _ at: Duration, _ action: Simulation.Action) throws {
        let step = try Simulation.parse(text).get()
        #expect(step.at == at)
        #expect(step.action == action)
        #expect(step.text == text)
    }

    @Test(arguments: [
        ("", "empty step"),
        ("eu explodes", "cannot read 'eu explodes'"),
        ("eu fails at +169h", "out of range"),
        ("eu fails at +-5s", "step 'eu fails at +-5s'"),
        ("eu degrades by mood", "'mood' is not one of error_rate"),
        ("eu lags forever", "'forever' is not a lag"),
        ("eu capacity 140%", "not a capacity"),
        ("failover eu strategy manual", "not a strategy to move with"),
        ("failover eu to", "'to' needs a value"),
        ("drain", "drain needs one region"),
        ("pin now", "pin takes nothing more"),
    ])
    func badStepsSayWhy(_ text: String, _ message: String) {
        guard case .failure(let error) = Simulation.parse(text) else {
            Issue.record("'\(text)' was accepted")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func aSimulationTouchesNothing() throws {
        var fleet = Fleet(threeRegions)
        fleet.at(0)
        let before = fleet.engine.state
        let report = Simulation.run(engine: fleet.engine, signals: fleet.signals, steps: [try Simulation.parse("eu fails at +10s").get()], start: t(5))
        #expect(fleet.engine.state == before)
        #expect(report.rows.last?.plan == ["eu": 0, "us": 8000, "ap": 2000])
        #expect(report.rows.first { $0.steps == ["eu fails at +10s"] }?.offset == 10)
    }

    @Test func refusedCommandsAreShownNotThrown() throws {
        let steps = try ["disable eu", "disable us", "disable ap"].map { try Simulation.parse($0).get() }
        let report = Simulation.run(engine: FailoverEngine(settings: FailoverSettings(), regions: threeRegions), signals: [:], steps: steps, start: t(0))
        #expect(report.rows.contains { $0.refused?.contains("disable ap") == true })
        #expect(report.rows.last?.plan == ["eu": 0, "us": 0, "ap": 10_000])
    }

    @Test func aFlappingRegionNeverEndsASimulationEarlyAndUntilBoundsIt() throws {
        let steps = try ["eu fails at +10s", "eu recovers at +20s"].map { try Simulation.parse($0).get() }
        let engine = FailoverEngine(settings: FailoverSettings(), regions: threeRegions)
        let bounded = Simulation.run(engine: engine, signals: [:], steps: steps, start: t(0), until: .seconds(60))
        #expect(bounded.truncated, "the recovery window (ends at 140) is still pending at 60")
        #expect(bounded.rows.allSatisfy { $0.offset <= 60 })
        let full = Simulation.run(engine: engine, signals: [:], steps: steps, start: t(0))
        #expect(!full.truncated)
        // The window ends at 140; the failback ramp (4 steps over 60 s) then runs to 200.
        #expect(full.rows.map(\.offset).suffix(4) == [140, 160, 180, 200])
        #expect(full.rows.last?.events.map(\.kind).contains(.failbackCompleted) == true)
    }
}
