import Foundation
import Testing

@testable import RegionCore

/// Numbers that come from outside (config, control socket, a state file on disk) are read
/// with checked conversions and range limits. Each case below used to trap the process
/// (SIGILL on an overflowing conversion) before these rules.
@Suite("numbers from outside")
struct OutsideNumbersTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("2s", .seconds(2)), ("1.5s", .milliseconds(1500)),
        ("1m30s", .seconds(90)), ("1h", .seconds(3600)), (" 2s ", .seconds(2)), ("0ms", .zero),
        ("87600h", DurationText.maximum), ("1h0.5ms", .milliseconds(3_600_001)),
    ])
    func durationsParse(_ text: String, _ expected: Duration) {
        #expect(DurationText.parse(text) == .success(expected))
        #expect(parseDuration(text) == expected)
    }

    @Test(arguments: [
        ("", DurationText.Failure.malformed), ("5", .malformed), ("s", .malformed), ("1d", .malformed), ("-1s", .malformed),
        ("1 s x", .malformed), ("1.2.3s", .malformed), ("١s", .malformed), ("nans", .malformed), ("1e3s", .malformed),
        ("99999999999999h", .tooLong), ("87601h", .tooLong), ("87600h1ms", .tooLong),
        (String(repeating: "9", count: 400) + "ms", .malformed), ("9223372036854775807ms", .tooLong),
    ])
    func badDurationsAreRejected(_ text: String, _ failure: DurationText.Failure) {
        #expect(DurationText.parse(text) == .failure(failure))
        #expect(parseDuration(text) == nil)
    }

    @Test(arguments: [
        (Duration.milliseconds(250), "250ms"), (.seconds(2), "2s"), (.milliseconds(1500), "1500ms"), (.seconds(120), "2m"),
        (.seconds(7200), "2h"), (.seconds(90), "90s"), (.zero, "0ms"), (.seconds(Int64.max), "\(Int64.max)s"),
    ])
    func durationsFormatBack(_ duration: Duration, _ text: String) {
        #expect(formatDuration(duration) == text)
    }

    /// Formatting never traps, whatever the number.
    @Test(arguments: [Double.infinity, -.infinity, .nan, 1e300, -1e300, 9.3e18, 0.5, 12.25])
    func formattingAnyNumberIsSafe(_ value: Double) {
        #expect(!percent(value).isEmpty)
        #expect(!formatMs(value).isEmpty)
        #expect(!formatSeconds(value).isEmpty)
        #expect(!wholeNumber(value).isEmpty)
    }

    @Test func controlTimesAreCheckedAndNameTheField() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var request = ControlRequest(cmd: "history")
        request.since = "99999999999999h"
        guard case .failure(let error) = request.sinceDate(now: now) else {
            Issue.record("a since of 99999999999999h was accepted")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.message == "since '99999999999999h' is out of range; use 0ms to 87600h")
        request.since = "1h"
        #expect(try request.sinceDate(now: now).get() == now.addingTimeInterval(-3600))
        request.since = "2026-11-25T12:00:00Z"
        #expect(try request.sinceDate(now: now).get() == Date(timeIntervalSince1970: 1_795_608_000))
        request.since = "yesterday"
        #expect(throws: ControlError.self) { try request.sinceDate(now: now).get() }

        var pin = ControlRequest(cmd: "pin")
        pin.reason = "r"
        pin.ttl = "99999999999999h"
        guard case .failure(let ttlError) = pin.operatorCommand(.pin) else {
            Issue.record("a ttl of 99999999999999h was accepted")
            return
        }
        #expect(ttlError.message == "ttl '99999999999999h' is out of range; use 1s to 720h")
        pin.ttl = "0s"
        #expect(throws: ControlError.self) { try pin.operatorCommand(.pin).get() }
        pin.ttl = "30m"
        #expect(try pin.operatorCommand(.pin).get() == .pin(ttl: .seconds(1800)))
    }

    @Test func setWeightsOutOfRangeNamesTheRegion() throws {
        var fleet = Fleet(threeRegions)
        fleet.at(0)
        #expect {
            try fleet.command(.setWeights(["eu": Int.max, "us": Int.max]), at: 1)
        } throws: { error in
            (error as? ControlError)?.message == "weight of eu is 9223372036854775807; use a whole number from 0 to 1000000"
        }
        #expect(throws: ControlError.self) { try fleet.command(.setWeights(["ap": -1]), at: 1) }
        #expect(fleet.weights == ["eu": 5000, "us": 3000, "ap": 2000])
    }

    @Test func aDamagedStoredStateIsRepairedNotTrappedOn() {
        var state = FailoverEngine(settings: .init(), regions: threeRegions).state
        state.regions["eu"]!.share = .nan
        state.regions["us"]!.share = 1e300
        state.weightOverride = ["eu": Int.max, "us": 1, "ap": 1]
        state.plan = TrafficPlan(weights: ["eu": Int.max, "us": 1, "ap": 1], total: 10_000)
        var engine = FailoverEngine(settings: .init(), regions: threeRegions, state: state)
        #expect(engine.state.regions["eu"]!.share == 1)
        #expect(engine.state.regions["us"]!.share == 1)
        #expect(engine.state.weightOverride == nil)
        #expect(engine.state.plan == TrafficPlan(weights: ["eu": 5000, "us": 3000, "ap": 2000], total: 10_000))
        let decision = engine.step(["eu": failing, "us": healthy, "ap": healthy], now: t(0))
        #expect(decision.plan.isValid)
        #expect(HAProxyWeights.weights(for: TrafficPlan(weights: ["eu": Int.max], total: 1), servers: [HAProxyServer(region: "eu", server: "eu")])[0].weight == 256)
    }

    @Test(arguments: [
        (TrafficPlan(weights: ["a": 5, "b": 5], total: 10), true), (TrafficPlan(weights: ["a": 11, "b": -1], total: 10), false),
        (TrafficPlan(weights: ["a": Int.max, "b": Int.max], total: 10), false), (TrafficPlan(weights: ["a": 5], total: 10), false),
        (TrafficPlan(weights: [:], total: 0), false),
    ])
    func planValidity(_ plan: TrafficPlan, _ valid: Bool) {
        #expect(plan.isValid == valid)
    }

    @Test(arguments: [
        ("[probe]\njitter = 1e300", "probe.jitter: 1e+302% is out of range; use 0% to 50%"),
        ("[probe]\ninterval = \"99999999999999h\"", "probe.interval: 99999999999999h is out of range; use 50ms to 24h"),
        ("[status]\ndegraded_error_rate = \"1e300%\"", "status.degraded_error_rate: 1e+300% is out of range; use 0% to 100%"),
        ("[failover]\ntotal = 9223372036854775807", "failover.total: 9223372036854775807 is out of range; use 1 to 1000000000"),
    ])
    func hostileConfigValuesAreErrors(_ section: String, _ message: String) {
        let text = section + "\n[[region]]\nid = \"a\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"127.0.0.1:1\"\n"
        do {
            _ = try ConfigLoader.parse(text, file: "f")
            Issue.record("accepted: \(section)")
        } catch {
            #expect(error.issues.contains { $0.description.hasSuffix(message) }, "\(error)")
        }
    }
}
