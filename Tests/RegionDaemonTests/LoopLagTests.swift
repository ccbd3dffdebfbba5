import NIOCore
import RegionCore
import RegionTestSupport
import Testing

@testable import RegionDaemon
@testable import RegionProbes

/// ``LoopLag`` reads a probe loop's own lateness (no heartbeat timer on it).
@Suite("Loop lag")
struct LoopLagTests {
    @Test func theWatchSeesAProbeLoopRunItsTimersLate() async throws {
        let loop = try #require(ProbeLoop(name: "regiond-test-lag"))
        let lag = LoopLag()
        lag.start(on: loop)
        lag.start(on: loop)  // again: still one loop, read once
        #expect(lag.drainWorstMs() == 0)
        let listener = DueListener(loop: loop)
        let overdue = NIODeadline.now().uptimeNanoseconds - 80_000_000
        loop.execute { loop.setProbeTimer(at: overdue, for: listener, tag: 1) }
        _ = try await listener.due.futureResult.get()
        #expect(lag.peekWorstMs() >= 80)
        #expect(lag.drainWorstMs() >= 80)
        #expect(lag.drainWorstMs() == 0)
        lag.stop()
    }
}
