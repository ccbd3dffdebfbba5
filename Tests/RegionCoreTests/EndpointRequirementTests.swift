import Foundation
import Testing

@testable import RegionCore

/// How a region's endpoints combine (issue 26): `require = "all" | "any" | N` and
/// `critical = true`, judged on a real window of probe results.
@Suite("endpoints combine into a region's health")
struct EndpointRequirementTests {
    /// A web tier of three and a database.
    static let endpoints = ["web-1", "web-2", "web-3", "db"]

    struct Case: Sendable, CustomTestStringConvertible {
        var why: String
        var require: EndpointRequirement.Require = .pooled
        var critical: Set<String> = []
        /// Endpoints whose results are all failures; the others pass. `-name`: no result yet.
        var failing: [String]
        var status: RegionStatus
        var unhealthyCapacity = 0.2
        /// Text the first reason holds.
        var reason: String
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        Case(why: "pooled: one of four failing is 25% errors, degraded", failing: ["db"], status: .degraded, reason: "error rate 25%"),
        Case(
            why: "a critical database failing makes the region unhealthy alone", critical: ["db"], failing: ["db"], status: .unhealthy,
            reason: "critical endpoint db is failing (refused)"),
        Case(why: "a critical database passing: one web failing is only degraded", critical: ["db"], failing: ["web-1"], status: .degraded, reason: "error rate 25%"),
        Case(
            why: "require all: one web endpoint failing", require: .all, failing: ["web-2"], status: .unhealthy,
            reason: "3 of 4 endpoints passing, 4 required (require = all); failing: web-2 (refused)"),
        Case(why: "require any: three of four failing still leaves one", require: .any, failing: ["web-1", "web-2", "db"], status: .degraded, reason: "error rate 75%"),
        Case(
            why: "require any: all failing", require: .any, failing: ["web-1", "web-2", "web-3", "db"], status: .unhealthy,
            reason: "no probe succeeded"),
        Case(
            why: "require 2 of the web tier (db critical, not counted): two web failing", require: .atLeast(2), critical: ["db"],
            failing: ["web-1", "web-3"], status: .unhealthy, reason: "1 of 3 endpoints passing, 2 required (require = 2); failing: web-1 (refused), web-3 (refused)"),
        Case(
            why: "require 2 of the web tier: one web failing is degraded, not unhealthy", require: .atLeast(2), critical: ["db"], failing: ["web-3"],
            status: .degraded, reason: "error rate 25%"),
        Case(
            why: "require 2: both critical and count failing, both named", require: .atLeast(2), critical: ["db"], failing: ["db", "web-1", "web-2"],
            status: .unhealthy, reason: "critical endpoint db is failing"),
        Case(
            why: "an endpoint with no result yet does not count against the region", require: .all, failing: ["-web-3"], status: .healthy,
            reason: "within thresholds"),
        Case(
            why: "with no result yet, the ones that answered can settle it", require: .all, failing: ["-web-3", "web-1"], status: .unhealthy,
            reason: "2 of 4 endpoints passing, 4 required"),
        Case(
            why: "pooled, unhealthy_capacity 30%: 75% errors and 25% capacity is unhealthy", failing: ["web-1", "web-2", "web-3"],
            status: .unhealthy, unhealthyCapacity: 0.3, reason: "error rate 75% > 50% and capacity 25%"),
        Case(
            why: "the same with require 1: the count replaces the pool's error-rate rule", require: .atLeast(1),
            failing: ["web-1", "web-2", "web-3"], status: .degraded, unhealthyCapacity: 0.3, reason: "error rate 75%"),
    ])
    func theRule(_ c: Case) {
        var window = RegionWindow(length: .seconds(60))
        for i in 0..<10 {
            for name in Self.endpoints where !c.failing.contains("-" + name) {
                let pass = !c.failing.contains(name)
                window.record(
                    ProbeResult(
                        endpoint: name, scheduledAt: Samples.at(Double(i)), finishedAt: Samples.at(Double(i)), latencyMs: 10,
                        failure: pass ? nil : .refused, detail: pass ? "ok" : "connection refused"))
            }
        }
        let requirement = EndpointRequirement(require: c.require, critical: c.critical, endpoints: Self.endpoints)
        let metrics = window.metrics(now: Samples.at(10), naming: !requirement.isPooled)
        var thresholds = StatusThresholds()
        thresholds.evaluationInterval = .seconds(1)
        thresholds.unhealthyCapacity = c.unhealthyCapacity
        let a = StatusEvaluator.classify(metrics, thresholds: thresholds, requirement: requirement, now: Samples.at(10))
        #expect(a.status == c.status, "\(a.reasons)")
        #expect(a.reasons.first?.contains(c.reason) == true, "\(a.reasons)")
    }

    /// The pooled default names nothing, so the common case pays for no list.
    @Test func thePooledDefaultNamesNoEndpoint() {
        var window = RegionWindow(length: .seconds(60))
        window.record(Samples.result("db", at: 1, pass: false))
        #expect(window.metrics(now: Samples.at(2)).failingEndpoints == nil)
        let named = window.metrics(now: Samples.at(2), naming: true)
        #expect(named.failingEndpoints == [FailingEndpoint(name: "db", failure: .status)])
        #expect(named.passingEndpoints == [])
    }

    /// `simulate "eu endpoint db fails"`: the region's status follows its requirement.
    @Test func simulateFollowsTheRequirement() throws {
        let engine = FailoverEngine(settings: FailoverSettings(), regions: threeRegions)
        let signals = Dictionary(uniqueKeysWithValues: threeRegions.map { ($0.id, healthy) })
        let requirements = [
            "eu": EndpointRequirement(require: .atLeast(2), critical: ["db"], endpoints: ["web-1", "web-2", "web-3", "db"]),
            "us": EndpointRequirement(endpoints: ["api"]),
        ]
        let steps = try ["eu endpoint web-1 fails", "eu endpoint db fails at +10s", "us endpoint api fails at +20s", "eu endpoint db recovers at +30s"]
            .map { try Simulation.parse($0).get() }
        let report = Simulation.run(engine: engine, signals: signals, requirements: requirements, steps: steps, start: t(0), until: .seconds(40))
        let web = try #require(report.rows.first { $0.steps == ["eu endpoint web-1 fails"] })
        #expect(web.events.isEmpty, "one web endpoint of three down, two required: nothing moves")
        let db = try #require(report.rows.first { $0.steps == ["eu endpoint db fails at +10s"] })
        #expect(db.events.map(\.kind).contains(.failoverStarted))
        #expect(db.plan["eu"] == 0)
        let pooled = try #require(report.rows.first { $0.steps == ["us endpoint api fails at +20s"] })
        #expect(pooled.refused?.contains("us pools its endpoints") == true, "\(String(describing: pooled.refused))")
        let back = try #require(report.rows.first { $0.steps == ["eu endpoint db recovers at +30s"] })
        #expect(back.events.map(\.kind).contains(.recoveryStarted), "\(back.events.map(\.kind))")
        guard case .failure(let error) = Simulation.parse("eu endpoint db breaks") else {
            Issue.record("a step that is neither fails nor recovers was read")
            return
        }
        #expect(error.message.contains("endpoint NAME fails|recovers"))
    }
}
