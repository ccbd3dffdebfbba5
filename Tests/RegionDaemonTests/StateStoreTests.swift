import Foundation
import GRDB
import Logging
import RegionCore
import Testing

@testable import RegionDaemon

func temporaryDirectory() -> String {
    NSTemporaryDirectory() + "regiond-tests-\(UUID().uuidString.prefix(8))"
}

@Suite("StateStore (real SQLite)")
struct StateStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let retention = HistoryRetention(maxAge: .seconds(30 * 86_400), maxEvents: 100_000)
    static let started = EventPayload.failoverStarted(FailoverStart(trigger: .errorRate, strategy: .automatic, share: 0))

    static func event(_ id: UInt64, at seconds: Double = 0, region: String? = nil, _ payload: EventPayload = .planChanged, message: String? = nil) -> Event {
        Event(id: id, time: Self.t0.addingTimeInterval(seconds), region: region, message: message ?? "\(id)", payload)
    }

    @Test func commitsStateAndEventsTogetherAndReadsThemBack() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        #expect(try await store.restore() == StoredState())
        let plan = TrafficPlan(weights: ["eu": 0, "us": 10_000], total: 10_000)
        var runtime = RegionRuntime()
        runtime.phase = .recovering(since: Self.t0, until: Self.t0.addingTimeInterval(120))
        let state = EngineState(regions: ["eu": runtime, "us": RegionRuntime()], plan: plan)
        var moved = Self.event(7, region: "eu", Self.started, message: "moved")
        moved.decision = DecisionStamp(plan: plan.weights(order: ["eu", "us"]))
        let events = [moved, Self.event(8, at: 1)]
        #expect(try await store.commit(DecisionRecord(state: state, events: events), retention: Self.retention, now: Self.t0))
        // A second store on the same file sees exactly what was committed (as after kill -9).
        let reopened = try StateStore(directory: directory)
        #expect(try await reopened.restore() == StoredState(engine: state, lastEventID: 8, lastRevision: 0))
        let history = try await reopened.history(region: nil, since: nil, kinds: nil, limit: 10)
        #expect(history == events)
        #expect(history.first?.fields["plan"] == "eu=0 us=10000" && history.first?.fields["trigger"] == "error_rate")
    }

    @Test func aDecisionsRevisionIsRecordedOnceWhateverRestarts() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        let state = EngineState(regions: [:], plan: TrafficPlan(weights: ["eu": 10_000], total: 10_000))
        #expect(try await store.commit(DecisionRecord(state: state, events: [Self.event(1)], revision: 41), retention: Self.retention, now: Self.t0))
        let reopened = try StateStore(directory: directory)
        // The same revision again (a restarted follower reading etcd): a no-op.
        #expect(try await !reopened.commit(DecisionRecord(state: state, events: [Self.event(2)], revision: 41), retention: Self.retention, now: Self.t0))
        #expect(try await reopened.history(region: nil, since: nil, kinds: nil, limit: 10).map(\.id) == [1])
        #expect(try await reopened.restore().lastRevision == 41)
        #expect(try await reopened.commit(DecisionRecord(state: nil, events: [Self.event(3)], revision: 57), retention: Self.retention, now: Self.t0))
        #expect(try await reopened.restore().lastRevision == 57)
    }

    @Test func historyFiltersByRegionTimeKindAndLimit() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        for i in 0..<10 {
            try await store.append(
                [Self.event(UInt64(i + 1), at: Double(i), region: i < 5 ? "eu" : "us", i % 2 == 0 ? .planChanged : Self.started, message: "\(i)")],
                retention: Self.retention, now: Self.t0)
        }
        #expect(try await store.history(region: "us", since: nil, kinds: nil, limit: 100).map(\.message) == ["5", "6", "7", "8", "9"])
        #expect(try await store.history(region: nil, since: Self.t0.addingTimeInterval(8), kinds: nil, limit: 100).map(\.message) == ["8", "9"])
        #expect(try await store.history(region: nil, since: nil, kinds: [.failoverStarted], limit: 2).map(\.message) == ["7", "9"])
        #expect(try await store.events(after: 7, limit: 100).map(\.id) == [8, 9, 10])
    }

    /// The retention is a bound on every write, not a cleanup that runs now and then: a
    /// flapping fleet writes many events per decision (issue 29).
    @Test func everyWriteKeepsTheHistoryWithinItsBounds() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        let tight = HistoryRetention(maxAge: .seconds(600), maxEvents: 5)
        for i in 0..<20 {
            try await store.append([Self.event(UInt64(i + 1), at: Double(i) * 10)], retention: tight, now: Self.t0.addingTimeInterval(Double(i) * 10))
            #expect(try await store.eventCount() <= 5)
        }
        #expect(try await store.history(region: nil, since: nil, kinds: nil, limit: 100).map(\.id) == [16, 17, 18, 19, 20])
        // By age too: at 790 s only what is at most 600 s old stays (id 20 was written at 190 s).
        try await store.append([Self.event(21, at: 790)], retention: tight, now: Self.t0.addingTimeInterval(790))
        #expect(try await store.history(region: nil, since: nil, kinds: nil, limit: 100).map(\.id) == [20, 21])
        // Ids go on above the last one, pruned or not.
        #expect(try await StateStore(directory: directory).restore().lastEventID == 21)
    }

    /// A history written before events were typed is migrated when opened: every event
    /// gets its typed value, and the revisions it recorded are not recorded again.
    @Test func aVersionOneHistoryIsMigratedWithNothingLost() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/regiond.sqlite"
        let v1 = """
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('v1: events and engine state');
            CREATE TABLE event (id INTEGER PRIMARY KEY AUTOINCREMENT, time DOUBLE NOT NULL, kind TEXT NOT NULL, region TEXT, message TEXT NOT NULL, fields TEXT NOT NULL);
            CREATE INDEX event_on_time ON event(time);
            CREATE INDEX event_on_region ON event(region);
            CREATE TABLE engine (id INTEGER PRIMARY KEY, state TEXT NOT NULL, updated DOUBLE NOT NULL);
            INSERT INTO event (time, kind, region, message, fields) VALUES
              (1800000000, 'status_changed', 'eu', 'eu is unhealthy', '{"status":"unhealthy","previous_status":"healthy","reason":"error rate 100%","error_rate":"1.0000","samples":"30"}'),
              (1800000001, 'failover_started', 'eu', 'eu failed over', '{"trigger":"error_rate","strategy":"automatic","share":"0.0000","plan":"eu=0 us=10000","revision":"41","leader":"obs2"}'),
              (1800000002, 'plan_applied', NULL, 'applied', '{"actuator":"haproxy:lb","generation":"3","plan":"eu=0 us=10000","delay_ms":"1.5"}'),
              (1800000003, 'operator_command', 'us', 'drain', '{"uid":"0","reason":"maintenance","command":"drain","trigger":"manual","strategy":"gradual"}');
            """
        let v1Database = try DatabaseQueue(path: path)
        try await v1Database.write { db in try db.execute(sql: v1) }
        try v1Database.close()
        let store = try StateStore(directory: directory)
        let events = try await store.history(region: nil, since: nil, kinds: nil, limit: 10)
        #expect(events.map(\.id) == [1, 2, 3, 4])
        guard events.count == 4 else { return }
        #expect(events[0].payload == .statusChanged(StatusMove(status: .unhealthy, previousStatus: .healthy, reasons: ["error rate 100%"], errorRate: 1, samples: 30, capacity: nil, latencyP95Ms: nil)))
        #expect(events[1].payload == .failoverStarted(FailoverStart(trigger: .errorRate, strategy: .automatic, share: 0)))
        #expect(events[1].decision == DecisionStamp(plan: [RegionWeight(region: "eu", weight: 0), RegionWeight(region: "us", weight: 10_000)], revision: 41, leader: "obs2"))
        #expect(events[2].payload == .planApplied(PlanDelivery(actuator: "haproxy:lb", generation: 3, plan: "eu=0 us=10000", delayMs: 1.5)) && events[2].decision == nil)
        #expect(events[3].payload.failover?.trigger == .manual && events[3].payload.failover?.strategy == .gradual)
        // Revision 41 was recorded by the old version: recording it again is a no-op.
        #expect(try await store.restore().lastRevision == 41)
        #expect(try await !store.commit(DecisionRecord(state: nil, events: [Self.event(5)], revision: 41), retention: Self.retention, now: Self.t0))
        #expect(try await store.restore().lastEventID == 4)
    }

    @Test func anUnusableDirectoryIsAClearError() {
        #expect(throws: StateStore.Error.self) { _ = try StateStore(directory: "/proc/regiond-cannot-be-here") }
    }
}

@Suite("EventBus and reports")
struct EventBusTests {
    @Test func everySubscriberGetsEveryEventInOrderWithIncreasingIDs() async throws {
        let bus = EventBus(logger: Logger(label: "test"))
        let first = await bus.subscribe()
        let second = await bus.subscribe()
        for i in 0..<3 {
            await bus.publish(Event(time: Date(), region: "eu", message: "\(i)", .regionUpdated))
        }
        await bus.finish()
        var a: [Event] = []
        for await event in first { a.append(event) }
        var b: [Event] = []
        for await event in second { b.append(event) }
        #expect(a.map(\.message) == ["0", "1", "2"])
        #expect(a == b)
        #expect(a.map(\.id) == [1, 2, 3])
    }

    @Test func reportEventsAreRecordedBeforeFanOut() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        let bus = EventBus(logger: Logger(label: "test"), history: store)
        let published = await bus.publish(Event(time: Date(), message: "reloaded", .configReloaded(ConfigApplied(generation: 2, added: [], removed: [], updated: []))))
        let recorded = try await store.history(region: nil, since: nil, kinds: nil, limit: 10)
        #expect(recorded.map(\.id) == [published.id])
    }

    @Test(arguments: [
        ("region.id", "REGIOND_REGION_ID"), ("MESSAGE_ID", "MESSAGE_ID"), ("REGIOND_STATUS", "REGIOND_STATUS"), ("socket.path", "REGIOND_SOCKET_PATH"),
    ])
    func journalFieldNames(_ key: String, _ expected: String) {
        #expect(JournalLogHandler.fieldName(key) == expected)
    }

    @Test func theStatusLineNamesRegionsThatAreNotHealthy() {
        func brief(_ id: String, _ status: RegionStatus) -> RegionBrief {
            RegionBrief(id: id, status: status, since: nil, priority: 1, weight: 1, enabled: true, endpoints: 1, endpointsPassing: 1, errorRate: 0, latencyP95Ms: nil, capacity: nil, reason: "")
        }
        let line = Supervisor<ContinuousClock>.summary([brief("a", .healthy), brief("b", .degraded), brief("c", .healthy), brief("d", .unhealthy)])
        #expect(line == "4 regions: 2 healthy, 1 degraded (b), 1 unhealthy (d)")
    }
}
