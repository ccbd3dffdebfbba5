import NIOConcurrencyHelpers
import NIOCore
import RegionCore
import RegionTestSupport
import Testing

@testable import RegionProbes

/// A ``ProbeLoop`` measures its own lag on the deadlines it keeps (what the schedule
/// watch reads, instead of a heartbeat timer that woke every loop ten times a second);
/// NIO's loops get that heartbeat only once a probe runs there.
@Suite("Probe loop lateness")
struct ProbeLoopLatenessTests {
    /// A timer set 50 ms in the past runs at least 50 ms late: the loop reports that much,
    /// once; an idle loop reports nothing.
    @Test func aLateTimerIsTheLoopsLagUntilItIsRead() async throws {
        // A loop of its own: no other test's timers on it.
        let loop = try #require(ProbeLoop(name: "regiond-test-lateness"))
        #expect(loop.drainLateness() == 0)
        let listener = DueListener(loop: loop)
        let overdue = NIODeadline.now().uptimeNanoseconds - 50_000_000
        loop.execute { loop.setProbeTimer(at: overdue, for: listener, tag: 7) }
        #expect(try await listener.due.futureResult.get() == 7)
        #expect(loop.peekLateness() >= 50_000_000)
        #expect(loop.drainLateness() >= 50_000_000)
        #expect(loop.drainLateness() == 0)
    }

    /// The daemon starts the heartbeat on NIO's loops from this hook: it must fire on
    /// the first probe off the probe loops (a host name here), once, and not for probes
    /// on them.
    @Test func theHookFiresOnceWhenAProbeFirstLeavesTheLoops() async throws {
        let server = try await TargetServer.start()
        let loop = try #require(ProbeLoop(name: "regiond-test-hook"))
        let prober = Prober()
        let calls = NIOLockedValueBox(0)
        prober.whenProbesLeaveTheLoops { calls.withLockedValue { $0 += 1 } }
        let onLoop = prober.prepare(EndpointConfig(name: "ip", check: .tcp(host: "127.0.0.1", port: server.port)))
        #expect(try await prober.start(onLoop, on: loop).get().outcome == .pass("connected"))
        #expect(calls.withLockedValue { $0 } == 0)
        let byName = prober.prepare(EndpointConfig(name: "name", check: .tcp(host: "localhost", port: server.port)))
        #expect(try await prober.start(byName, on: loop).get().outcome.failure == nil)
        #expect(try await prober.start(byName, on: loop).get().outcome.failure == nil)
        #expect(calls.withLockedValue { $0 } == 1)
        // Set after the fact: called at once.
        prober.whenProbesLeaveTheLoops { calls.withLockedValue { $0 += 1 } }
        #expect(calls.withLockedValue { $0 } == 2)
        await prober.shutdown()
        await server.stop()
    }
}
