import Foundation
import Testing

@testable import RegionCore

/// A lone regiond suspects itself (issue 26): more than `suspect_fraction` of the enabled
/// regions beginning to fail within one status window holds automatic decisions.
@Suite("a lone observer suspects itself")
struct SelfSuspicionTests {
    static let four = ["eu", "us", "ap", "sa"]
    static let five = ["eu", "us", "ap", "sa", "af"]

    struct Case: Sendable, CustomTestStringConvertible {
        var why: String
        var fraction = 0.5
        var regions = four
        /// (seconds, regions failing then); the window is 60 s. `~eu`: eu's latest probe
        /// evaluation failed, but it is not unhealthy yet; `?eu`: eu has too few samples yet.
        var rounds: [(Double, [String])]
        /// What each round said: "began eu,us", "ended fewer_fail", or "".
        var said: [String]
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        Case(why: "one region failing is what regiond is for", rounds: [(0, ["eu"])], said: [""]),
        Case(why: "half is not more than half", rounds: [(0, ["eu"]), (1, ["eu", "us"])], said: ["", ""]),
        Case(why: "three of four within the window", rounds: [(0, ["eu"]), (1, ["eu", "us"]), (2, ["eu", "us", "ap"])], said: ["", "", "began ap,eu,us"]),
        Case(
            why: "three of four, but spread over more than one window: each was handled alone",
            rounds: [(0, ["eu"]), (70, ["eu", "us"]), (140, ["eu", "us", "ap"])], said: ["", "", ""]),
        Case(
            why: "the three that began within the window are counted, not the old one", regions: five,
            rounds: [(0, ["eu"]), (100, ["eu", "us", "ap", "sa"])], said: ["", "began ap,sa,us"]),
        Case(
            why: "the old one alone does not make two of four more than half",
            rounds: [(0, ["eu"]), (100, ["eu", "us", "ap"])], said: ["", ""]),
        Case(
            why: "failed probes count before hysteresis makes them unhealthy: the first to fail is held",
            rounds: [(0, ["~eu", "~us", "~ap"]), (5, ["eu", "~us", "~ap"])], said: ["", "began ap,eu,us"]),
        Case(
            why: "failed probes alone decide nothing, so they raise nothing",
            rounds: [(0, ["~eu", "~us", "~ap"]), (5, ["~eu", "~us", "~ap"])], said: ["", ""]),
        Case(
            why: "a region still waiting for samples is not troubled", regions: ["eu", "us", "ap"],
            rounds: [(0, ["eu", "?us", "?ap"])], said: [""]),
        Case(
            why: "a probe that failed once and passes again ends it",
            rounds: [(0, ["eu", "~us", "~ap"]), (5, ["eu"])], said: ["began ap,eu,us", "ended fewer_fail"]),
        Case(
            why: "ends once no more than half fail",
            rounds: [(0, ["eu", "us", "ap"]), (10, ["eu", "us", "ap"]), (20, ["eu", "us"])], said: ["began ap,eu,us", "", "ended fewer_fail"]),
        Case(
            why: "suspect_fraction 100%: never", fraction: 1,
            rounds: [(0, ["eu", "us", "ap", "sa"])], said: [""]),
        Case(
            why: "a single-region fleet never suspects itself", regions: ["eu"],
            rounds: [(0, ["eu"])], said: [""]),
        Case(
            why: "two of two regions", regions: ["eu", "us"],
            rounds: [(0, ["eu", "us"])], said: ["began eu,us"]),
    ])
    func theRule(_ c: Case) {
        var rule = SelfSuspicion(fraction: c.fraction, window: .seconds(60))
        var said: [String] = []
        for (time, failing) in c.rounds {
            let signals = Dictionary(
                uniqueKeysWithValues: c.regions.map { id in
                    (
                        id,
                        failing.contains(id)
                            ? RegionCoreTests.failing
                            : failing.contains("~" + id)
                                ? healthyButFlaky : failing.contains("?" + id) ? RegionSignal(status: .unknown, passing: false) : healthy
                    )
                })
            switch rule.observe(signals, enabled: c.regions, now: t(time)) {
            case .began(let suspect)?: said.append("began \(suspect.regions.joined(separator: ","))")
            case .ended(_, let reason)?: said.append("ended \(reason.rawValue)")
            case nil: said.append("")
            }
        }
        #expect(said == c.said)
    }

    /// Confirmed: no suspicion while as many fail; a new wave after fewer failed is suspected again.
    @Test func aConfirmationLastsUntilFewerFail() {
        var rule = SelfSuspicion(fraction: 0.5, window: .seconds(60))
        let all = Dictionary(uniqueKeysWithValues: Self.four.map { ($0, RegionCoreTests.failing) })
        let none = Dictionary(uniqueKeysWithValues: Self.four.map { ($0, healthy) })
        #expect(rule.confirm() == nil, "nothing to confirm yet")
        guard case .began? = rule.observe(all, enabled: Self.four, now: t(0)) else {
            Issue.record("not suspected")
            return
        }
        guard case .ended(_, .confirmed)? = rule.confirm() else {
            Issue.record("not confirmed")
            return
        }
        #expect(rule.observe(all, enabled: Self.four, now: t(10)) == nil)
        #expect(rule.suspect == nil)
        #expect(rule.observe(none, enabled: Self.four, now: t(20)) == nil)
        guard case .began? = rule.observe(all, enabled: Self.four, now: t(30)) else {
            Issue.record("a new wave after recovery is not suspected")
            return
        }
    }
}
