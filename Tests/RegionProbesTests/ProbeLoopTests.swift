import Foundation
import NIOConcurrencyHelpers
import NIOCore
import RegionCore
import RegionTestSupport
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

    /// With quick ACKs off, a TCP probe passes on the endpoint's SYN-ACK and resets the
    /// connection before its last ACK, as HAProxy's checks do: the endpoint's kernel
    /// answered, and the endpoint itself is never handed a connection to accept.
    /// The last ACK waits at least 40 ms (Linux's delayed-ACK floor), so a probe loop
    /// held up that long between the SYN-ACK and its reset lets one through; the test
    /// allows a few of 20, where quick ACKs on hand the endpoint all 20.
    @Test func aTCPProbeIsNeverAcceptedByTheEndpoint() async throws {
        let listener = try #require(LoopbackSocket.bind(), "bind 127.0.0.1:0: errno \(errno)")
        defer { close(listener.fd) }
        try #require(listen(listener.fd, 64) == 0 && fcntl(listener.fd, F_SETFL, O_NONBLOCK) == 0)
        let prober = Prober()
        for _ in 0..<20 {
            #expect(await prober.probe(EndpointConfig(name: "t", check: .tcp(host: "127.0.0.1", port: listener.port))) == .pass("connected"))
        }
        // What waits in the accept queue (the listener is non-blocking).
        var accepted = 0
        while case let fd = accept(listener.fd, nil, nil), fd >= 0 {
            close(fd)
            accepted += 1
        }
        #expect(accepted <= 5, "\(accepted) of 20 TCP probes were handed to the endpoint")
        await prober.shutdown()
    }

    /// The loop reuses one endpoint's answer (framer and llhttp parser) for the next
    /// probe of any endpoint: nothing of one answer may show in the next. Each probe here
    /// runs alone, so each takes the answer the one before it left.
    @Test func aReusedAnswerKeepsNothingOfTheLastOne() async throws {
        let server = try await TargetServer.start()
        let loop = try Self.loop()
        let prober = Prober()
        let base = "http://127.0.0.1:\(server.port)"
        let header = prober.prepare(ProberTests.http("\(base)/ok") { $0.capacityHeader = "X-Capacity" })
        let failing = prober.prepare(ProberTests.http("\(base)/500"))
        let chunked = prober.prepare(ProberTests.http("\(base)/chunked") { $0.capacityJSONField = "capacity" })
        let plain = prober.prepare(ProberTests.http("\(base)/ok"))
        let truncated = prober.prepare(ProberTests.http("\(base)/ok", { $0.bodyContains = "capacity" }, maxBody: 4))
        for _ in 0..<5 {
            #expect(try await prober.start(header, on: loop).get().outcome == .pass("status 200", capacity: 0.7))
            #expect(try await prober.start(failing, on: loop).get().outcome == .fail(.status, "status 500, expected 200"))
            #expect(try await prober.start(chunked, on: loop).get().outcome == .pass("status 200", capacity: 0.25))
            // No capacity asked for: the last answer's header and body must not leak in.
            #expect(try await prober.start(plain, on: loop).get().outcome == .pass("status 200"))
            #expect(try await prober.start(truncated, on: loop).get().outcome == .fail(.body, "first 4 bytes of the body does not contain \"capacity\""))
        }
        await prober.shutdown()
        await server.stop()
    }

    /// What a monitor is to its loop: it hears its timers in deadline order and each
    /// probe it started end exactly once, with its tag, on the loop; a refused or
    /// timed-out probe ends the same way, and so does one that takes NIO's path.
    @Test func aListenerHearsItsTimersAndEachProbesEndOnItsLoop() async throws {
        let server = try await TargetServer.start()
        let loop = try Self.loop()
        let prober = Prober()
        let base = "http://127.0.0.1:\(server.port)"
        // Bound, not listening: connecting is refused.
        let refusing = try #require(LoopbackSocket.bind(), "bind 127.0.0.1:0: errno \(errno)")
        defer { close(refusing.fd) }
        let endpoints = [
            prober.prepare(ProberTests.http("\(base)/ok")),
            prober.prepare(ProberTests.http("\(base)/hang", timeout: .milliseconds(100))),
            prober.prepare(EndpointConfig(name: "t", check: .tcp(host: "127.0.0.1", port: server.port))),
            prober.prepare(EndpointConfig(name: "r", check: .tcp(host: "127.0.0.1", port: refusing.port))),
            // A host name: NIO's path, handed back to the loop.
            prober.prepare(ProberTests.http("http://localhost:\(server.port)/ok")),
        ]
        let listener = RecordingListener(loop: loop, prober: prober, endpoints: endpoints)
        let now = NIODeadline.now().uptimeNanoseconds
        loop.execute {
            // Set out of order; tag i is endpoint i, due i × 5 ms from now.
            for tag in [3, 0, 4, 2, 1] {
                loop.setProbeTimer(at: now + UInt64(tag) * 5_000_000, for: listener, tag: UInt64(tag))
            }
        }
        let ends = try await listener.allEnded.futureResult.get()
        #expect(listener.dueOrder == [0, 1, 2, 3, 4])
        #expect(ends.map(\.tag).sorted() == [0, 1, 2, 3, 4])
        let outcomes = Dictionary(uniqueKeysWithValues: ends.map { ($0.tag, $0.outcome) })
        #expect(outcomes[0] == .pass("status 200"))
        #expect(outcomes[1] == .fail(.timeout, "no answer within 100ms"))
        #expect(outcomes[2] == .pass("connected"))
        #expect(outcomes[3]?.failure == .refused)
        #expect(outcomes[4] == .pass("status 200"))
        #expect(listener.offLoopCalls == 0)
        // Every descriptor taken for a probe was given back.
        #expect(prober.descriptors.inUse == 0)
        await prober.shutdown()
        await server.stop()
    }

    final class RecordingListener: ProbeListener {
        struct End: Sendable {
            var tag: UInt64
            var outcome: ProbeOutcome
        }
        struct State {
            var due: [UInt64] = []
            var ends: [End] = []
            var offLoop = 0
        }
        let loop: ProbeLoop
        let prober: Prober
        let endpoints: [Prober.Prepared]
        let state = NIOLockedValueBox(State())
        let allEnded: EventLoopPromise<[End]>

        init(loop: ProbeLoop, prober: Prober, endpoints: [Prober.Prepared]) {
            self.loop = loop
            self.prober = prober
            self.endpoints = endpoints
            self.allEnded = loop.makePromise()
        }

        var dueOrder: [UInt64] { self.state.withLockedValue { $0.due } }
        var offLoopCalls: Int { self.state.withLockedValue { $0.offLoop } }

        func probeDue(_ tag: UInt64) {
            self.state.withLockedValue {
                $0.due.append(tag)
                if !self.loop.inEventLoop { $0.offLoop += 1 }
            }
            self.prober.start(self.endpoints[Int(tag)], on: self.loop, for: self, tag: tag)
        }

        func probeEnded(_ tag: UInt64, _ completion: ProbeCompletion) {
            let ends = self.state.withLockedValue { state -> [End]? in
                state.ends.append(End(tag: tag, outcome: completion.outcome))
                if !self.loop.inEventLoop { state.offLoop += 1 }
                return state.ends.count == self.endpoints.count ? state.ends : nil
            }
            if let ends { self.allEnded.succeed(ends) }
        }
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
