import Dispatch
import Foundation
import GRDB
import Logging
import RegionCore
import Synchronization
import Testing

@testable import RegionDaemon

/// A store whose commits the test holds open and then lets succeed or fail: the moment
/// a real database is mid-commit cannot be chosen from outside.
final class HeldStore: EventHistory {
    let path = "held"
    private let waiting = Mutex<[CheckedContinuation<Bool, Never>]>([])
    let requests: AsyncStream<Void>
    private let requested: AsyncStream<Void>.Continuation

    init() {
        (self.requests, self.requested) = AsyncStream.makeStream()
    }

    func restore() async throws -> StoredState { StoredState() }

    func append(_ events: [Event], retention: HistoryRetention, now: Date) async throws {}

    func commit(_ decision: DecisionRecord, retention: HistoryRetention, now: Date) async throws -> Bool {
        let succeed = await withCheckedContinuation { continuation in
            self.waiting.withLock { $0.append(continuation) }
            self.requested.yield()
        }
        guard succeed else { throw StateStore.Error(description: "disk I/O error (injected)") }
        return true
    }

    func events(after id: UInt64, limit: Int) async throws -> [Event] { [] }

    /// Ends the commit that is being held.
    func release(succeeding: Bool) {
        let held = self.waiting.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        held?.resume(returning: succeeding)
    }
}

@Suite("decisions: commit, then act", .serialized)
struct CommitOrderTests {
    static let config: Config = {
        var config = Config(regions: [
            RegionConfig(id: "eu", weight: 6000, endpoints: []),
            RegionConfig(id: "us", weight: 4000, endpoints: []),
        ])
        config.daemon.stateDirectory = temporaryDirectory()
        return config
    }()

    static let healthy = RegionSignal(status: .healthy, passing: true, capacity: 1)
    static let failing = RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)

    /// Waits for the next event of `kind` (the guard only stops a broken build from hanging).
    static func next(_ kind: EventKind, in events: inout AsyncStream<Event>.Iterator) async -> Event? {
        while let event = await events.next() {
            if event.kind == kind { return event }
        }
        return nil
    }

    @Test(.timeLimit(.minutes(1)))
    func aCommitInFlightIsInvisibleAndARefusedOneNeverHappened() async throws {
        let store = HeldStore()
        let logger = Logger(label: "test")
        let bus = EventBus(logger: logger, history: store)
        try FileManager.default.createDirectory(atPath: Self.config.daemon.stateDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: Self.config.daemon.stateDirectory) }
        let actuator = PlanActuator(stateDirectory: Self.config.daemon.stateDirectory, bus: bus, logger: logger)
        let controller = FailoverController(
            config: Self.config, history: store, bus: bus, time: TimeBase(clock: ContinuousClock()), actuator: actuator, logger: logger)
        var events = await bus.subscribe().makeAsyncIterator()
        var commits = store.requests.makeAsyncIterator()
        let loop = Task { try await controller.run() }
        defer { loop.cancel() }

        controller.submit(region: "eu", signal: Self.healthy)
        controller.submit(region: "us", signal: Self.healthy)
        controller.submit(region: "eu", signal: Self.failing)
        // The failover's commit is under way and held: traffic still shows the committed plan.
        await commits.next()
        #expect(controller.trafficReport().regions.map(\.weight) == [6000, 4000])
        #expect(controller.phases()["eu"] == .serving)
        // The database fails it: refused, and nothing of it was ever visible.
        store.release(succeeding: false)
        #expect(await Self.next(.historyUnavailable, in: &events) != nil)
        #expect(controller.trafficReport().regions.map(\.weight) == [6000, 4000])
        #expect(controller.trafficReport().recording == false)
        #expect(controller.alarms.recording == false)
        // The refused decision is retried; once the database takes it, it is in force.
        await commits.next()
        #expect(controller.trafficReport().regions.map(\.weight) == [6000, 4000])
        store.release(succeeding: true)
        #expect(await Self.next(.failoverStarted, in: &events)?.region == "eu")
        #expect(controller.trafficReport().regions.map(\.weight) == [0, 10_000])
        #expect(controller.alarms.recording)
    }

    /// History and analytics read a WAL snapshot beside the writer: a reader that holds its
    /// transaction open does not hold up the commit of a decision.
    @Test(.timeLimit(.minutes(1)))
    func aLongReadDoesNotHoldUpACommit() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let retention = HistoryRetention(FailoverSettings())
        try await store.append([Event(id: 1, time: t0, message: "before", .planChanged)], retention: retention, now: t0)

        let inside = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let reader = Task {
            try await store.queue.read { db -> (Int, Int) in
                let before = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? -1
                inside.signal()
                release.wait()  // holds the read transaction open on GRDB's reader thread
                let after = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? -1
                return (before, after)
            }
        }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                inside.wait()
                continuation.resume()
            }
        }
        // The reader is inside its transaction; the commit goes through all the same.
        #expect(try await store.commit(DecisionRecord(state: nil, events: [Event(id: 2, time: t0, message: "during", .panicCleared)]), retention: retention, now: t0))
        release.signal()
        let (before, after) = try await reader.value
        // The reader kept its snapshot throughout: it never saw the commit made beside it.
        #expect(before == 1 && after == 1)
        #expect(try await store.eventCount() == 2)
    }
}
