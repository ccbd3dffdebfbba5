import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RegionCore
import Testing

@testable import RegionProbes

/// ``ProbeLoop`` as a NIO event loop (what monitors rely on), and its raw-socket probes
/// beyond what ``ProberTests`` covers for both ways of probing.
@Suite("Probe loops")
struct ProbeLoopTests {
    static func loop() throws -> ProbeLoop {
        try #require(ProbeLoopGroup.shared?.loops.first)
    }

    @Test func tasksRunOnTheLoopInTheOrderTheyCame() async throws {
        let loop = try Self.loop()
        #expect(!loop.inEventLoop)
        let seen = NIOLockedValueBox<[Int]>([])
        let done = loop.makePromise(of: Void.self)
        for i in 0..<100 {
            loop.execute {
                precondition(loop.inEventLoop)
                seen.withLockedValue { $0.append(i) }
                if i == 99 { done.succeed() }
            }
        }
        try await done.futureResult.get()
        #expect(seen.withLockedValue { $0 } == Array(0..<100))
    }

    @Test func timersFireInDeadlineOrderAndCancelledOnesNever() async throws {
        let loop = try Self.loop()
        let order = NIOLockedValueBox<[Int]>([])
        let now = NIODeadline.now()
        let late = loop.scheduleTask(deadline: now + .milliseconds(30)) { order.withLockedValue { $0.append(30) } }
        let early = loop.scheduleTask(deadline: now + .milliseconds(10)) { order.withLockedValue { $0.append(10) } }
        let middle = loop.scheduleTask(deadline: now + .milliseconds(20)) { order.withLockedValue { $0.append(20) } }
        let cancelled = loop.scheduleTask(deadline: now + .milliseconds(15)) { order.withLockedValue { $0.append(15) } }
        cancelled.cancel()
        // A value computed on the loop comes back through the future.
        let value = loop.scheduleTask(in: .milliseconds(1)) { loop.inEventLoop ? 42 : 0 }
        try await late.futureResult.get()
        try await early.futureResult.get()
        try await middle.futureResult.get()
        #expect(try await value.futureResult.get() == 42)
        await #expect(throws: EventLoopError.self) { try await cancelled.futureResult.get() }
        #expect(order.withLockedValue { $0 } == [10, 20, 30])
    }

    /// Timers due in the same turn run soonest first, and one cancelled by an earlier one
    /// in that turn does not run (NIO's own loops behave so).
    @Test func aTimerCancelledByAnEarlierOneInTheSameTurnDoesNotRun() async throws {
        let loop = try Self.loop()
        let ran = NIOLockedValueBox<[String]>([])
        let base = NIODeadline.now()
        // Hold the loop until every timer below is scheduled and due, so they share a turn.
        let scheduled = DispatchSemaphore(value: 0)
        loop.execute {
            scheduled.wait()
            while NIODeadline.now() < base + .milliseconds(10) {}
        }
        let second = NIOLockedValueBox<Scheduled<Void>?>(nil)
        _ = loop.scheduleTask(deadline: base + .milliseconds(5)) {
            ran.withLockedValue { $0.append("first") }
            second.withLockedValue { $0?.cancel() }
        }
        second.withLockedValue { $0 = loop.scheduleTask(deadline: base + .milliseconds(6)) { ran.withLockedValue { $0.append("second") } } }
        let last = loop.scheduleTask(deadline: base + .milliseconds(7)) { ran.withLockedValue { $0.append("last") } }
        scheduled.signal()
        try await last.futureResult.get()
        #expect(ran.withLockedValue { $0 } == ["first", "last"])
    }

    actor Counter {
        nonisolated let loop: ProbeLoop
        nonisolated var unownedExecutor: UnownedSerialExecutor { self.loop.asUnownedSerialExecutor() }
        var count = 0
        init(loop: ProbeLoop) { self.loop = loop }
        func bump() -> Bool {
            self.count += 1
            return self.loop.inEventLoop
        }
    }

    @Test func anActorOnTheLoopRunsThere() async throws {
        let counter = Counter(loop: try Self.loop())
        var onLoop = true
        for _ in 0..<50 { onLoop = await counter.bump() && onLoop }
        #expect(onLoop)
        #expect(await counter.count == 50)
    }

    /// Many probes at once share the loop's slots: answers, timeouts and refusals each end
    /// their own probe, and a slot freed by one is reused without mixing them up.
    @Test func manyProbesAtOnceEachGetTheirOwnOutcome() async throws {
        let server = try await TargetServer.start()
        let loop = try Self.loop()
        let prober = Prober()
        let ok = prober.prepare(ProberTests.http("http://127.0.0.1:\(server.port)/ok"))
        let hang = prober.prepare(ProberTests.http("http://127.0.0.1:\(server.port)/hang", timeout: .milliseconds(200)))
        let tcp = prober.prepare(EndpointConfig(name: "t", check: .tcp(host: "127.0.0.1", port: server.port)))
        var futures: [(String, EventLoopFuture<ProbeCompletion>)] = []
        for round in 0..<3 {
            for i in 0..<40 {
                let kind = ["ok", "hang", "tcp"][(i + round) % 3]
                let prepared = kind == "ok" ? ok : kind == "hang" ? hang : tcp
                futures.append((kind, prober.start(prepared, on: loop)))
            }
        }
        for (kind, future) in futures {
            let outcome = try await future.get().outcome
            switch kind {
            case "ok": #expect(outcome == .pass("status 200"))
            case "hang": #expect(outcome == .fail(.timeout, "no answer within 200ms"))
            default: #expect(outcome == .pass("connected"))
            }
        }
        await prober.shutdown()
        await server.stop()
    }

    /// The probe closes a connection the endpoint keeps open with a reset (SO_LINGER 0),
    /// as HAProxy does, so 10,000 probes a second leave no FIN_WAIT or TIME_WAIT sockets
    /// behind (a plain close here leaves one per probe, for a minute).
    @Test func closingFirstLeavesNoSocketBehind() async throws {
        let server = try await TargetServer.start()
        let prober = Prober()
        for _ in 0..<20 {
            #expect(await prober.probe(ProberTests.http("http://127.0.0.1:\(server.port)/keep")) == .pass("status 200"))
        }
        #expect(try Self.sockets(toPort: server.port) == 0)
        await prober.shutdown()
        await server.stop()
    }

    /// Sockets, in any state, whose remote end is 127.0.0.1:`port` (`/proc/net/tcp`).
    static func sockets(toPort port: Int) throws -> Int {
        // Read to the end: Foundation's contentsOfFile stops after the first page of a /proc file.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/net/tcp"))
        defer { try? handle.close() }
        let table = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        let remote = String(format: "0100007F:%04X", port)
        return table.split(separator: "\n").dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[2] == remote
        }.count
    }
}
