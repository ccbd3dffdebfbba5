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
