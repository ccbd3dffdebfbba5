import Foundation
import Logging
import RegionCore
import Synchronization
import Testing

@testable import RegionDaemon

/// A fence that takes every commit and tells the test what was committed, in order.
final class RecordingFence: ClusterFence {
    let observerName = "obs1"
    private let revision = Mutex<Int64>(100)
    let commits: AsyncStream<[EventKind]>
    private let committed: AsyncStream<[EventKind]>.Continuation

    init() {
        (self.commits, self.committed) = AsyncStream.makeStream()
    }

    func commit(state: EngineState, events: [Event], answering: ForwardedKey?, now: Date) async throws -> Int64 {
        let revision = self.revision.withLock { value -> Int64 in
            value += 1
            return value
        }
        self.committed.yield(events.map(\.kind))
        return revision
    }
}

/// No decision on what is not known (issue 24, findings 2 and 3): a leader elected again
/// after etcd came back decides only once its own session is live and every region has a
/// known fleet status.
@Suite("cluster: a leader decides only on what it knows", .serialized)
struct LeaderDecisionTests {
    static let healthy = RegionSignal(status: .healthy, passing: true, capacity: 1)
    static let failing = RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)
    static let unknown = RegionSignal(status: .unknown, passing: false)

    @Test(.timeLimit(.minutes(1)))
    func aNewLeaderWaitsForEveryRegionsFleetStatusBeforeItsFirstDecision() async throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = Config(regions: [
            RegionConfig(id: "eu", weight: 6000, endpoints: []),
            RegionConfig(id: "us", weight: 4000, endpoints: []),
        ])
        config.daemon.stateDirectory = directory
        let logger = Logger(label: "test")
        let store = try StateStore(directory: directory)
        let bus = EventBus(logger: logger, history: store)
        let actuator = PlanActuator(stateDirectory: directory, bus: bus, logger: logger)
        let controller = FailoverController(config: config, history: store, bus: bus, time: TimeBase(clock: ContinuousClock()), actuator: actuator, logger: logger)
        let fence = RecordingFence()
        await controller.join(fence, hookOnLeaderOnly: false)
        let loop = Task { try await controller.run() }
        defer { loop.cancel() }

        // Both regions known and healthy while it leads: nothing to decide.
        controller.setSession(live: true)
        controller.submit(region: "eu", signal: Self.healthy)
        controller.submit(region: "us", signal: Self.healthy)
        controller.setRole(.leader)
        // etcd goes away: no session, it follows, and the fleet view loses every observer of us.
        controller.setSession(live: false)
        controller.setRole(.follower(leader: nil))
        controller.submit(region: "us", signal: Self.unknown)
        controller.submit(region: "eu", signal: Self.failing)
        // It wins the election again before its own session is live again (finding 3)...
        controller.setRole(.leader)
        // ...then etcd answers, before anyone has observed us again (finding 2)...
        controller.setSession(live: true)
        // ...then us is seen healthy again.
        controller.submit(region: "us", signal: Self.healthy)

        var commits = fence.commits.makeAsyncIterator()
        let first = try #require(await commits.next())
        #expect(!first.contains(.noHealthyTarget) && !first.contains(.failoverBlocked), "decided while us was unknown: \(first.map(\.rawValue))")
        #expect(first.contains(.failoverStarted), "\(first.map(\.rawValue))")
    }
}
