import Foundation
import Logging
import RegionCore
import Testing

@testable import RegionDaemon

/// One order everywhere: every sink gets events in id order, and a decision's events
/// come before the `plan_applied` they cause (issue 24, finding 5).
@Suite("events: one order everywhere", .serialized)
struct EventOrderTests {
    static let healthy = RegionSignal(status: .healthy, passing: true, capacity: 1)
    static let failing = RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)

    static func config(_ directory: String) -> Config {
        var config = Config(regions: [
            RegionConfig(id: "eu", weight: 6000, endpoints: []),
            RegionConfig(id: "us", weight: 4000, endpoints: []),
        ])
        config.daemon.stateDirectory = directory
        return config
    }

    @Test(.timeLimit(.minutes(1)))
    func aDecisionsEventsComeBeforeThePlanAppliedTheyCauseAndIdsOnlyGrow() async throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        let logger = Logger(label: "test")
        let bus = EventBus(logger: logger, history: store)
        let actuator = PlanActuator(stateDirectory: directory, bus: bus, logger: logger)
        let controller = FailoverController(
            config: Self.config(directory), history: store, bus: bus, time: TimeBase(clock: ContinuousClock()), actuator: actuator, logger: logger)
        var events = await bus.subscribe().makeAsyncIterator()
        let loop = Task { try await controller.run() }
        defer { loop.cancel() }

        controller.submit(region: "eu", signal: Self.healthy)
        controller.submit(region: "us", signal: Self.healthy)
        controller.submit(region: "eu", signal: Self.failing)
        var seen: [Event] = []
        while let event = await events.next() {
            seen.append(event)
            if seen.contains(where: { $0.kind == .failoverStarted }) && seen.contains(where: { $0.kind == .planApplied && $0.fields["plan"] == "eu=0 us=10000" }) {
                break
            }
        }
        let ids = seen.map(\.id)
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "delivered out of order: \(seen.map { "\($0.id) \($0.kind.rawValue)" })")
        let started = try #require(seen.firstIndex { $0.kind == .failoverStarted })
        let applied = try #require(seen.firstIndex { $0.kind == .planApplied && $0.fields["plan"] == "eu=0 us=10000" })
        #expect(started < applied, "plan_applied came before the failover_started that caused it: \(seen.map { "\($0.id) \($0.kind.rawValue)" })")
        // The history holds them in the same order.
        let recorded = try await store.history(region: nil, since: nil, kinds: nil, limit: 100).map(\.kind)
        let startedAt = try #require(recorded.firstIndex(of: .failoverStarted))
        let appliedAt = try #require(recorded.lastIndex(of: .planApplied))
        #expect(startedAt < appliedAt, "\(recorded)")
        // The page's last events are newest first.
        let recent = await bus.recent.map(\.id)
        #expect(recent == recent.sorted(), "\(recent)")
    }
}

/// The bus itself: one sequence however many threads post, and a resumed subscriber that
/// misses nothing and sees nothing twice.
@Suite("EventBus: the one sequence")
struct EventSequenceTests {
    static func note(_ n: Int) -> Event {
        Event(time: Date(), region: "r\(n % 7)", message: "\(n)", .regionUpdated)
    }

    @Test(.timeLimit(.minutes(1)))
    func postsFromManyTasksAreDeliveredInIdOrder() async throws {
        let bus = EventBus(logger: Logger(label: "test"))
        var delivered = await bus.subscribe().makeAsyncIterator()
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for n in 0..<50 {
                        if n % 3 == 0 { await bus.publish(Self.note(task * 100 + n)) } else { bus.post([Self.note(task * 100 + n)]) }
                    }
                }
            }
        }
        var ids: [UInt64] = []
        while ids.count < 400, let event = await delivered.next() { ids.append(event.id) }
        #expect(ids == Array(1...400))
    }

    @Test(.timeLimit(.minutes(1)))
    func aResumedSubscriberGetsWhatItMissedThenEverythingNewOnce() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        do {
            let bus = EventBus(logger: Logger(label: "test"), history: store)
            for n in 1...300 { bus.post([Self.note(n)]) }
            await bus.settle()
            // Within the recent events, and with a write racing the subscription.
            var resumed = await bus.subscribe(after: 280).makeAsyncIterator()
            bus.post([Self.note(301)])
            var ids: [UInt64] = []
            while ids.count < 21, let event = await resumed.next() { ids.append(event.id) }
            #expect(ids == Array(281...301))
            // Further back than the recent events keep: from the history.
            var old = await bus.subscribe(after: 10).makeAsyncIterator()
            var replayed: [UInt64] = []
            while replayed.count < 291, let event = await old.next() { replayed.append(event.id) }
            #expect(replayed == Array(11...301))
        }
        // After a restart the numbering goes on, and a client of the last run resumes.
        let restarted = EventBus(logger: Logger(label: "test"), history: store, lastEventID: try await store.restore().lastEventID)
        var again = await restarted.subscribe(after: 299).makeAsyncIterator()
        restarted.post([Self.note(302)])
        var ids: [UInt64] = []
        while ids.count < 3, let event = await again.next() { ids.append(event.id) }
        #expect(ids == [300, 301, 302])
    }

    /// A decision the history refuses is never delivered, and what follows is not held up.
    @Test(.timeLimit(.minutes(1)))
    func aRefusedDecisionIsNeverDeliveredAndHoldsNothingUp() async throws {
        let store = HeldStore()
        let bus = EventBus(logger: Logger(label: "test"), history: store)
        var delivered = await bus.subscribe().makeAsyncIterator()
        var commits = store.requests.makeAsyncIterator()
        let decision = Task { await bus.commit(DecisionRecord(state: nil, events: [Self.note(1)])) }
        await commits.next()
        bus.post([Self.note(2)])
        store.release(succeeding: false)
        guard case .failed = await decision.value else {
            Issue.record("the commit did not fail")
            return
        }
        let next = await delivered.next()
        #expect(next?.message == "2" && next?.id == 2, "\(String(describing: next))")
    }
}
