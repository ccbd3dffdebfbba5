import Foundation
import Testing

@testable import RegionCore

/// The decision machine with ``SelfSuspicion``: held rounds, the events, `confirm`.
@Suite("DecisionMaker: a lone observer that suspects itself")
struct DecisionMakerSuspicionTests {
    typealias D = DecisionMakerTests

    static func machine(cluster: Bool = false) -> DecisionMaker {
        var settings = FailoverSettings()
        settings.suspectWindow = .seconds(60)
        return DecisionMaker(
            engine: FailoverEngine(settings: settings, regions: threeRegions), targets: PlanTargets(), recording: true,
            cluster: cluster ? (observer: "obs1", hookOnLeaderOnly: false) : nil)
    }

    /// The kinds of every event the actions hand to the history to record.
    static func kinds(_ actions: [DecisionAction]) -> [EventKind] {
        D.recorded(actions)?.events.map(\.kind) ?? []
    }

    /// Answers the record the actions ask for, as the history would; returns what follows.
    static func record(_ m: inout DecisionMaker, _ actions: [DecisionAction], at now: Date) throws -> [DecisionAction] {
        let record = try #require(D.recorded(actions))
        return m.handle(.recorded(.recorded(record.events)), now: now)
    }

    /// Two of three regions fail at once: held, `observer_suspect` recorded once with the
    /// plan unchanged; `confirm`: recorded, then both fail over to the third at once.
    @Test func twoOfThreeFailingAtOnceAreHeldUntilConfirmed() throws {
        var m = Self.machine()
        _ = D.signals(&m, threeRegions.map { ($0.id, D.healthy) }, at: t(0))
        let failing = D.signals(&m, [("eu", D.failing), ("us", D.failing)], at: t(10))
        #expect(Self.kinds(failing) == [.observerSuspect], "the suspicion alone is recorded: no decision while suspect")
        #expect(D.recorded(failing)?.state?.plan == m.engine.state.plan)
        let settled = try Self.record(&m, failing, at: t(10))
        #expect(D.applied(settled) == nil, "nothing moved")
        guard case .suspect(let suspect)? = m.standstill else {
            Issue.record("not held: \(String(describing: m.standstill))")
            return
        }
        #expect(suspect.regions == ["eu", "us"])
        #expect(m.handle(.tick, now: t(20)).isEmpty, "raised once, not every round")
        #expect(m.nextWake(after: t(20)) == nil)
        var announced = Alarms()
        for case .alarms(let alarms) in failing + settled { announced = alarms }
        #expect(announced.prefix.contains("OBSERVER SUSPECT"))

        let confirmed = m.handle(.command(OperatorRequest(id: 7, command: .confirm, uid: 0, reason: "checked from us-west: both down")), now: t(30))
        #expect(Self.kinds(confirmed) == [.operatorCommand, .observerSuspectCleared])
        #expect(m.standstill != nil, "in force only once recorded")
        let resumed = try Self.record(&m, confirmed, at: t(30))
        #expect(D.replies(resumed)[7] == .done)
        let record = try #require(D.recorded(resumed))
        #expect(record.events.filter { $0.kind == .failoverStarted }.compactMap(\.region).sorted() == ["eu", "us"])
        #expect(m.standstill == nil)
    }

    /// One of the two recovers: fewer fail, decisions resume, and the one still failing
    /// fails over in the same record.
    @Test func fewerFailingResumesDecisions() throws {
        var m = Self.machine()
        _ = D.signals(&m, threeRegions.map { ($0.id, D.healthy) }, at: t(0))
        _ = try Self.record(&m, D.signals(&m, [("eu", D.failing), ("us", D.failing)], at: t(10)), at: t(10))
        let resumed = D.signals(&m, [("us", D.healthy)], at: t(20))
        let record = try #require(D.recorded(resumed))
        #expect(record.events.map(\.kind) == [.observerSuspectCleared, .failoverStarted])
        #expect(record.events.last?.region == "eu")
    }

    /// A confirmation the history cannot record is refused, and the suspicion stays.
    @Test func aConfirmationThatCannotBeRecordedChangesNothing() throws {
        var m = Self.machine()
        _ = D.signals(&m, threeRegions.map { ($0.id, D.healthy) }, at: t(0))
        _ = try Self.record(&m, D.signals(&m, [("eu", D.failing), ("us", D.failing)], at: t(10)), at: t(10))
        _ = m.handle(.command(OperatorRequest(id: 9, command: .confirm, uid: 0, reason: "r")), now: t(20))
        let refused = m.handle(.recorded(.failed("disk full")), now: t(20))
        guard case .refused? = D.replies(refused)[9] else {
            Issue.record("a confirmation that was not recorded was accepted")
            return
        }
        guard case .suspect? = m.standstill else {
            Issue.record("the suspicion ended though its end was not recorded")
            return
        }
    }

    /// Operator commands still run while suspect; `confirm` with nothing suspected, or in
    /// cluster mode, is refused with why.
    @Test func commandsRunAndConfirmSaysWhenThereIsNothingToConfirm() throws {
        var m = Self.machine()
        _ = D.signals(&m, threeRegions.map { ($0.id, D.healthy) }, at: t(0))
        let nothing = m.handle(.command(OperatorRequest(id: 1, command: .confirm, uid: 0, reason: "r")), now: t(1))
        guard case .refused(let error)? = D.replies(nothing)[1] else {
            Issue.record("confirm accepted with nothing suspected")
            return
        }
        #expect(error.message.contains("does not suspect itself"))
        _ = try Self.record(&m, D.signals(&m, [("eu", D.failing), ("us", D.failing)], at: t(10)), at: t(10))
        let drain = m.handle(.command(OperatorRequest(id: 2, command: .drain("ap"), uid: 0, reason: "r")), now: t(11))
        #expect(!D.commits(drain).isEmpty || D.replies(drain)[2] != nil, "a command is decided while suspect")

        var c = Self.machine(cluster: true)
        #expect(c.suspicion == nil)
        let refused = c.handle(.command(OperatorRequest(id: 3, command: .confirm, uid: 0, reason: "r")), now: t(1))
        guard case .refused(let clusterError)? = D.replies(refused)[3] else {
            Issue.record("confirm accepted in cluster mode")
            return
        }
        #expect(clusterError.message.contains("quorum"))
    }

    @Test func simulateShowsTheHoldAndTheConfirmation() throws {
        var m = Self.machine()
        _ = D.signals(&m, threeRegions.map { ($0.id, D.healthy) }, at: t(0))
        let steps = try ["eu fails", "us fails", "confirm at +30s"].map { try Simulation.parse($0).get() }
        let report = Simulation.run(engine: m.engine, signals: m.signals, suspicion: m.suspicion, steps: steps, start: t(100))
        let first = try #require(report.rows.first { !$0.steps.isEmpty })
        #expect(first.events.map(\.kind) == [.observerSuspect])
        #expect(first.plan == ["eu": 5000, "us": 3000, "ap": 2000])
        let confirmed = try #require(report.rows.first { $0.steps == ["confirm at +30s"] })
        #expect(confirmed.events.map(\.kind).prefix(2) == [.observerSuspectCleared, .failoverStarted])
        #expect(confirmed.plan == ["eu": 0, "us": 0, "ap": 10_000])
        // Without a suspicion (cluster mode) the same script fails both over at once.
        let cluster = Simulation.run(engine: m.engine, signals: m.signals, steps: Array(steps.prefix(2)), start: t(100))
        #expect(cluster.rows.contains { $0.events.contains { $0.kind == .failoverStarted } })
    }
}
