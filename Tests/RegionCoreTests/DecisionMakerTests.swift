import Foundation
import Testing

@testable import RegionCore

/// The decision path's rules, one table or timeline each, fed synchronously: no actor, no
/// clock, no database (``DecisionMaker``).
@Suite("DecisionMaker: when a decision is made, committed, applied and answered")
struct DecisionMakerTests {
    static let healthy = RegionSignal(status: .healthy, passing: true, capacity: 1)
    static let failing = RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)
    static let unknown = RegionSignal(status: .unknown, passing: false)
    static let regions = [
        FailoverRegion(id: "eu", priority: 1, weight: 6000, maxWeight: 10_000),
        FailoverRegion(id: "us", priority: 1, weight: 4000, maxWeight: 10_000),
    ]

    static func machine(_ settings: FailoverSettings = FailoverSettings(), cluster: Bool = false, hookOnLeaderOnly: Bool = false) -> DecisionMaker {
        DecisionMaker(
            engine: FailoverEngine(settings: settings, regions: Self.regions), targets: PlanTargets(hook: PlanHook(command: ["true"])), recording: true,
            cluster: cluster ? (observer: "obs1", hookOnLeaderOnly: hookOnLeaderOnly) : nil)
    }

    /// Feeds signals the way the shell does: the queued round follows them.
    static func signals(_ machine: inout DecisionMaker, _ signals: [(String, RegionSignal)], at now: Date) -> [DecisionAction] {
        var actions: [DecisionAction] = []
        for (region, signal) in signals { actions += machine.handle(.signal(region, signal), now: now) }
        if actions.contains(.queueRound) { actions += machine.handle(.round, now: now) }
        return actions
    }

    static func commits(_ actions: [DecisionAction]) -> [DecisionAction] {
        actions.filter {
            switch $0 {
            case .record, .commitFenced: true
            default: false
            }
        }
    }

    static func recorded(_ actions: [DecisionAction]) -> DecisionRecord? {
        for action in actions { if case .record(let record) = action { return record } }
        return nil
    }

    static func applied(_ actions: [DecisionAction]) -> TrafficPlan? {
        for action in actions { if case .apply(let plan) = action { return plan } }
        return nil
    }

    static func replies(_ actions: [DecisionAction]) -> [UInt64: CommandReply] {
        var out: [UInt64: CommandReply] = [:]
        for action in actions { if case .reply(let id, let reply) = action { out[id] = reply } }
        return out
    }

    @Test func nothingIsDecidedUntilEveryEnabledRegionHasAKnownStatus() {
        var m = Self.machine()
        #expect(Self.commits(Self.signals(&m, [("eu", Self.failing)], at: t(0))).isEmpty)
        #expect(m.standstill == .unknown(["us"]))
        let actions = Self.signals(&m, [("us", Self.healthy)], at: t(1))
        #expect(m.standstill == nil)
        #expect(Self.recorded(actions)?.events.map(\.kind) == [.failoverStarted])
    }

    /// Commit, then act: the engine takes the decision only once the history has it, and
    /// the plan is applied after that, never with the commit.
    @Test func aDecisionIsInForceOnlyOnceRecorded() throws {
        var m = Self.machine()
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        let actions = Self.signals(&m, [("eu", Self.failing)], at: t(1))
        let record = try #require(Self.recorded(actions))
        #expect(Self.applied(actions) == nil)
        #expect(m.engine.state.plan.weight("eu") == 6000 && !m.isIdle)
        let after = m.handle(.recorded(.recorded(record.events)), now: t(1))
        #expect(m.engine.state.plan.weight("eu") == 0 && m.isIdle)
        #expect(Self.applied(after)?.weight("us") == 10_000)
    }

    /// One decision at a time: a command that arrives mid-commit waits its turn; signals
    /// that arrive meanwhile get a round after it.
    @Test func whatArrivesDuringACommitWaitsItsTurn() throws {
        var m = Self.machine()
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        let first = try #require(Self.recorded(Self.signals(&m, [("eu", Self.failing)], at: t(1))))
        #expect(m.handle(.command(OperatorRequest(id: 7, command: .pin(ttl: nil), uid: 0, reason: "freeze")), now: t(2)).allSatisfy { if case .wake = $0 { true } else { false } })
        #expect(Self.commits(Self.signals(&m, [("eu", Self.healthy)], at: t(2))).isEmpty)
        // The failover is recorded: the pin is committed next, then a round sees eu healthy.
        let next = m.handle(.recorded(.recorded(first.events)), now: t(3))
        let pin = try #require(Self.recorded(next))
        #expect(pin.events.map(\.kind) == [.operatorCommand])
        let after = m.handle(.recorded(.recorded(pin.events)), now: t(3))
        #expect(Self.replies(after)[7] == .done)
        #expect(Self.recorded(after)?.events.map(\.kind) == [.recoveryStarted])
    }

    struct RefusalCase: Sendable, CustomTestStringConvertible {
        var why: String
        var refuseUnrecorded: Bool
        var command: Bool
        var acted: Bool
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        RefusalCase(why: "refuse_unrecorded: an automatic decision the history cannot take never happened", refuseUnrecorded: true, command: false, acted: false),
        RefusalCase(why: "refuse_unrecorded = false: acted on, and said so", refuseUnrecorded: false, command: false, acted: true),
        RefusalCase(why: "an operator's command that cannot be recorded is refused whatever the setting", refuseUnrecorded: false, command: true, acted: false),
    ])
    func aDecisionTheHistoryCannotTake(_ c: RefusalCase) throws {
        var settings = FailoverSettings()
        settings.refuseUnrecorded = c.refuseUnrecorded
        var m = Self.machine(settings)
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        let started = c.command ? m.handle(.command(OperatorRequest(id: 1, command: .drain("eu"), uid: 0, reason: "r")), now: t(1)) : Self.signals(&m, [("eu", Self.failing)], at: t(1))
        _ = try #require(Self.recorded(started))
        let after = m.handle(.recorded(.failed("disk I/O error")), now: t(1))
        #expect(!m.recording)
        #expect(after.contains(.alarms(Alarms(recording: false, panic: false, stranded: []))))
        #expect((m.engine.state.plan.weight("eu") == 0) == c.acted)
        #expect((Self.applied(after) != nil) == c.acted)
        let published = after.compactMap { if case .publish(let events) = $0 { events.map(\.kind) } else { nil } }.flatMap { $0 }
        #expect(published.first == .historyUnavailable)
        #expect(published.contains(c.command ? .operatorCommand : .failoverStarted) == c.acted)
        if c.command {
            #expect(Self.replies(after)[1] == .refused(ControlError(.internal, "the decision could not be recorded in the state database, so it was not applied")))
        } else if !c.acted {
            // Asked again in a second; taken once the history is back.
            #expect(after.contains(.wake(at: t(2))))
            let retried = try #require(Self.recorded(m.handle(.tick, now: t(2))))
            let done = m.handle(.recorded(.recorded(retried.events)), now: t(2))
            #expect(m.recording && m.engine.state.plan.weight("eu") == 0 && Self.applied(done) != nil)
        }
    }

    @Test func aStarvedInstanceMakesNoAutomaticDecisionButTakesCommands() throws {
        var m = Self.machine()
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        #expect(m.handle(.hold(true), now: t(1)).isEmpty)
        #expect(Self.commits(Self.signals(&m, [("eu", Self.failing)], at: t(1))).isEmpty)
        #expect(m.standstill == .held)
        let command = try #require(Self.recorded(m.handle(.command(OperatorRequest(id: 2, command: .pin(ttl: nil), uid: 0, reason: "r")), now: t(2))))
        _ = m.handle(.recorded(.recorded(command.events)), now: t(2))
        _ = m.handle(.command(OperatorRequest(id: 3, command: .unpin, uid: 0, reason: "r")), now: t(2))
        _ = m.handle(.recorded(.recorded([])), now: t(2))
        #expect(Self.recorded(m.handle(.hold(false), now: t(3)))?.events.map(\.kind) == [.failoverStarted])
    }

    // MARK: cluster mode

    struct StandingCase: Sendable, CustomTestStringConvertible {
        var why: String
        var role: DecisionRole
        var session: Bool
        var decides: Bool
        var reply: ControlError.Code?
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        StandingCase(why: "a follower decides nothing and names the leader", role: .follower(leader: "obs2"), session: true, decides: false, reply: .notLeader),
        StandingCase(why: "a leader whose etcd session is not live decides nothing (finding 3)", role: .leader, session: false, decides: false, reply: .unavailable),
        StandingCase(why: "a leader with a live session decides, through etcd first", role: .leader, session: true, decides: true, reply: nil),
    ])
    func whoDecidesInACluster(_ c: StandingCase) {
        var m = Self.machine(cluster: true)
        _ = m.handle(.session(live: c.session), now: t(0))
        _ = m.handle(.role(c.role), now: t(0))
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        let actions = Self.signals(&m, [("eu", Self.failing)], at: t(1))
        let fenced = actions.contains { if case .commitFenced = $0 { true } else { false } }
        #expect(fenced == c.decides)
        #expect(Self.recorded(actions) == nil, "a leader commits to etcd before its history")
        if !c.decides {
            let reply = Self.replies(m.handle(.command(OperatorRequest(id: 9, command: .drain("eu"), uid: 0, reason: "r")), now: t(2)))[9]
            if case .refused(let error) = reply { #expect(error.code == c.reply) } else { Issue.record("\(String(describing: reply))") }
        }
    }

    /// A leader elected again after etcd came back decides only once its session is live and
    /// every region's fleet status is known again (findings 2 and 3).
    @Test func aNewLeaderDecidesOnlyOnAKnownFleetWithALiveSession() throws {
        var m = Self.machine(cluster: true)
        _ = m.handle(.session(live: true), now: t(0))
        _ = m.handle(.role(.leader), now: t(0))
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        _ = m.handle(.session(live: false), now: t(1))
        _ = m.handle(.role(.follower(leader: nil)), now: t(1))
        _ = Self.signals(&m, [("us", Self.unknown), ("eu", Self.failing)], at: t(2))
        #expect(Self.commits(m.handle(.role(.leader), now: t(3))).isEmpty)
        #expect(m.standstill == .noSession)
        #expect(Self.commits(m.handle(.session(live: true), now: t(4))).isEmpty)
        #expect(m.standstill == .unknown(["us"]))
        let actions = Self.signals(&m, [("us", Self.healthy)], at: t(5))
        guard case .commitFenced(_, let events)? = Self.commits(actions).first else {
            Issue.record("\(actions)")
            return
        }
        #expect(events.map(\.kind) == [.failoverStarted])
    }

    @Test func aFencedCommitIsRecordedUnderItsRevisionStampedWithTheLeader() throws {
        var m = Self.machine(cluster: true)
        _ = m.handle(.session(live: true), now: t(0))
        _ = m.handle(.role(.leader), now: t(0))
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        _ = Self.signals(&m, [("eu", Self.failing)], at: t(1))
        let record = try #require(Self.recorded(m.handle(.fenced(.committed(revision: 42)), now: t(1))))
        #expect(record.revision == 42 && record.state?.plan.weight("eu") == 0)
        #expect(record.events.allSatisfy { $0.decision?.revision == 42 && $0.decision?.leader == "obs1" && $0.decision?.planText == "eu=0 us=10000" })
        _ = m.handle(.recorded(.recorded(record.events)), now: t(1))
        #expect(m.recordedRevision == 42)
        // The watch brings the same revision back: nothing more to do.
        let echo = CommittedDecision(state: m.engine.state, events: record.events, leader: "obs1", sequence: 1, revision: 42)
        #expect(Self.commits(m.handle(.adopt(echo), now: t(2))).isEmpty)
    }

    @Test func aRefusedFenceMeansTheDecisionWasNeverMade() throws {
        var m = Self.machine(cluster: true)
        _ = m.handle(.session(live: true), now: t(0))
        _ = m.handle(.role(.leader), now: t(0))
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        _ = m.handle(.command(OperatorRequest(id: 5, command: .drain("eu"), uid: 0, reason: "r")), now: t(1))
        let after = m.handle(.fenced(.refused("another instance leads")), now: t(1))
        #expect(m.engine.state.plan.weight("eu") == 6000 && Self.recorded(after) == nil && Self.applied(after) == nil)
        guard case .refused(let error)? = Self.replies(after)[5] else {
            Issue.record("\(after)")
            return
        }
        #expect(error.code == .unavailable && error.message.contains("another instance leads"))
    }

    /// Adoption that survives restarts (findings 1 and 4): every committed revision is
    /// recorded once, in order; the latest state comes with the last.
    @Test func committedDecisionsAreRecordedOnceEachInRevisionOrder() throws {
        var m = Self.machine(cluster: true)
        m.restore(state: nil, recordedRevision: 10)
        var failedOver = m.engine.state
        failedOver.plan = TrafficPlan(weights: ["eu": 0, "us": 10_000], total: 10_000)
        let old = CommittedDecision(state: failedOver, events: [], leader: "obs2", sequence: 3, revision: 10)
        #expect(Self.commits(m.handle(.adopt(old), now: t(0))).isEmpty, "revision 10 is recorded already")
        let started = Event(time: t(1), region: "eu", message: "failed over", .failoverStarted(FailoverStart(trigger: .errorRate, strategy: .automatic, share: 0)))
        let recovery = Event(time: t(2), region: "eu", message: "recovering", .recoveryStarted(RecoveryWindow(until: t(122), share: 0)))
        let first = try #require(Self.recorded(m.handle(.adopt(CommittedDecision(state: nil, events: [started], leader: "obs2", sequence: 4, revision: 11)), now: t(3))))
        #expect(first.revision == 11 && first.state == nil && first.events.first?.decision?.revision == 11)
        // The second waits for the first.
        #expect(m.handle(.adopt(CommittedDecision(state: failedOver, events: [recovery], leader: "obs2", sequence: 5, revision: 12)), now: t(3)).filter { $0 != .wake(at: nil) }.isEmpty)
        let second = try #require(Self.recorded(m.handle(.recorded(.recorded(first.events)), now: t(3))))
        #expect(second.revision == 12 && second.state == failedOver)
        let after = m.handle(.recorded(.alreadyRecorded), now: t(3))
        #expect(m.recordedRevision == 12 && m.engine.state.plan.weight("eu") == 0)
        #expect(Self.applied(after) == failedOver.plan)
    }

    /// In cluster mode a decision etcd holds is acted on even when the local history fails.
    @Test func anAdoptedDecisionIsActedOnWhenTheLocalHistoryFails() throws {
        var m = Self.machine(cluster: true)
        var failedOver = m.engine.state
        failedOver.plan = TrafficPlan(weights: ["eu": 0, "us": 10_000], total: 10_000)
        let event = Event(time: t(1), region: "eu", message: "failed over", .failoverStarted(FailoverStart(trigger: .errorRate, strategy: .automatic, share: 0)))
        _ = try #require(Self.recorded(m.handle(.adopt(CommittedDecision(state: failedOver, events: [event], leader: "obs2", sequence: 1, revision: 3)), now: t(1))))
        let after = m.handle(.recorded(.failed("disk full")), now: t(1))
        #expect(m.engine.state.plan == failedOver.plan && Self.applied(after) == failedOver.plan && m.recordedRevision == 3)
        let published = after.compactMap { if case .publish(let events) = $0 { events.map(\.kind) } else { nil } }.flatMap { $0 }
        #expect(published == [.historyUnavailable, .failoverStarted])
    }

    @Test func theHookFollowsLeadershipWhenItRunsOnTheLeaderOnly() {
        var m = Self.machine(cluster: true, hookOnLeaderOnly: true)
        #expect(m.activeTargets.hook == nil)
        #expect(m.handle(.role(.leader), now: t(0)).contains(.configure(PlanTargets(hook: PlanHook(command: ["true"])))))
        #expect(m.handle(.role(.follower(leader: "obs2")), now: t(1)).contains(.configure(PlanTargets())))
    }

    /// The shell is woken exactly when something is due; a deadline that passed without
    /// changing anything (a cooldown that ended while failback waits for an operator) does
    /// not hide a later one.
    @Test func theWakeUpIsTheNextDeadlineStillToCome() throws {
        var settings = FailoverSettings()
        settings.cooldown = .seconds(100)
        settings.recoveryWindow = .seconds(10)
        settings.failback = .manual
        var m = Self.machine(settings)
        func commit(_ actions: [DecisionAction], at now: Date) throws -> [DecisionAction] {
            let record = try #require(Self.recorded(actions))
            return m.handle(.recorded(.recorded(record.events)), now: now)
        }
        _ = Self.signals(&m, [("eu", Self.healthy), ("us", Self.healthy)], at: t(0))
        _ = try commit(Self.signals(&m, [("eu", Self.failing)], at: t(1)), at: t(1))
        #expect(try commit(Self.signals(&m, [("eu", Self.healthy)], at: t(2)), at: t(2)).contains(.wake(at: t(12))), "the recovery window")
        #expect(try commit(m.handle(.tick, now: t(12)), at: t(12)).contains(.wake(at: t(101))), "the cooldown, though failback is manual")
        _ = try commit(m.handle(.command(OperatorRequest(id: 1, command: .pin(ttl: .seconds(200)), uid: 0, reason: "r")), now: t(50)), at: t(50))
        // The cooldown passes and changes nothing (failback waits for an operator): the pin's end is next.
        #expect(m.handle(.tick, now: t(101)) == [.wake(at: t(250))])
    }
}
