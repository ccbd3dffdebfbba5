import Foundation
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

    @Test func commitsStateAndEventsTogetherAndReadsThemBack() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        #expect(try await store.loadEngineState() == nil)
        let plan = TrafficPlan(weights: ["eu": 0, "us": 10_000], total: 10_000)
        var runtime = RegionRuntime()
        runtime.phase = .recovering(since: Self.t0, until: Self.t0.addingTimeInterval(120))
        let state = EngineState(regions: ["eu": runtime, "us": RegionRuntime()], plan: plan)
        let events = [
            Event(time: Self.t0, kind: .failoverStarted, region: "eu", message: "moved", fields: ["trigger": "error_rate"]),
            Event(time: Self.t0.addingTimeInterval(1), kind: .planChanged, message: "plan"),
        ]
        let numbered = try await store.commit(state: state, events: events, now: Self.t0)
        #expect(numbered.map(\.id) == [1, 2])
        // A second store on the same file sees exactly what was committed (as after kill -9).
        let reopened = try StateStore(directory: directory)
        #expect(try await reopened.loadEngineState() == state)
        let history = try await reopened.history(region: nil, since: nil, kinds: nil, limit: 10)
        #expect(history == numbered)
    }

    @Test func historyFiltersByRegionTimeKindAndLimit() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        for i in 0..<10 {
            _ = try await store.append(
                Event(time: Self.t0.addingTimeInterval(Double(i)), kind: i % 2 == 0 ? .statusChanged : .failoverStarted, region: i < 5 ? "eu" : "us", message: "\(i)"))
        }
        #expect(try await store.history(region: "us", since: nil, kinds: nil, limit: 100).map(\.message) == ["5", "6", "7", "8", "9"])
        #expect(try await store.history(region: nil, since: Self.t0.addingTimeInterval(8), kinds: nil, limit: 100).map(\.message) == ["8", "9"])
        #expect(try await store.history(region: nil, since: nil, kinds: [.failoverStarted], limit: 2).map(\.message) == ["7", "9"])
    }

    @Test func pruningKeepsTheNewestWithinAgeAndCount() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        for i in 0..<20 {
            _ = try await store.append(Event(time: Self.t0.addingTimeInterval(Double(i) * 60), kind: .statusChanged, message: "\(i)"))
        }
        let removed = try await store.prune(maxAge: .seconds(600), maxEvents: 5, now: Self.t0.addingTimeInterval(19 * 60))
        #expect(removed == 15)
        #expect(try await store.history(region: nil, since: nil, kinds: nil, limit: 100).map(\.message) == ["15", "16", "17", "18", "19"])
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
            await bus.publish(Event(time: Date(), kind: .statusChanged, region: "eu", message: "\(i)"))
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
        let published = await bus.publish(Event(time: Date(), kind: .configReloaded, message: "reloaded"))
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
