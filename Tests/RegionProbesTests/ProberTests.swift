import Foundation
import NIOCore
import NIOPosix
import RegionCore
import Testing

@testable import RegionProbes
import RegionTestSupport

/// Probes against real servers and processes on this machine.
@Suite("Probes against real targets")
struct ProberTests {
    /// A probe whose outcome is not a timeout gets 10 s: the TLS handshake alone takes
    /// seconds under ThreadSanitizer. Tests of timeouts pass their own.
    static func http(_ url: String, _ configure: (inout HTTPCheck) -> Void = { _ in }, timeout: Duration = .seconds(10), maxBody: Int = 65536) -> EndpointConfig {
        var check = HTTPCheck(url: url)
        configure(&check)
        return EndpointConfig(name: "e", check: .http(check), interval: .seconds(5), timeout: timeout, maxBodyBytes: maxBody)
    }

    /// `socketEngine`: false runs every probe on NIO channels, as host names and TLS do;
    /// true runs TCP and plain http to an IP address on a ``ProbeLoop``'s raw sockets.
    /// Tests of those take both, so the two ways give the same outcomes.
    static func withServer<T>(tls: Bool = false, socketEngine: Bool = true, _ body: (TargetServer, Prober) async throws -> T) async throws -> T {
        let server = try await TargetServer.start(tls: tls ? try TargetServer.tlsContext() : nil)
        let prober = Prober(socketEngine: socketEngine)
        let result: T
        do {
            result = try await body(server, prober)
        } catch {
            await prober.shutdown()
            await server.stop()
            throw error
        }
        await prober.shutdown()
        await server.stop()
        return result
    }

    @Test(arguments: [true, false])
    func httpPassesAndReadsCapacityFromHeaderOrJSON(socketEngine: Bool) async throws {
        try await Self.withServer(socketEngine: socketEngine) { server, prober in
            let base = "http://127.0.0.1:\(server.port)"
            let plain = await prober.probe(Self.http("\(base)/ok") { $0.bodyContains = "\"status\":\"ok\"" })
            #expect(plain == .pass("status 200"))
            let header = await prober.probe(Self.http("\(base)/ok") { $0.capacityHeader = "X-Capacity" })
            #expect(header.capacity == 0.7)
            let json = await prober.probe(Self.http("\(base)/ok") { $0.capacityJSONField = "capacity" })
            #expect(json.capacity == 0.6)
            let nested = await prober.probe(Self.http("\(base)/ok") { $0.capacityJSONField = "load.capacity" })
            #expect(nested.capacity == 0.4)
            let missing = await prober.probe(Self.http("\(base)/ok") { $0.capacityJSONField = "nope" })
            #expect(missing.failure == .body)
        }
    }

    @Test(arguments: [true, false])
    func chunkedBodiesAndAConfiguredHostHeader(socketEngine: Bool) async throws {
        try await Self.withServer(socketEngine: socketEngine) { server, prober in
            let chunked = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/chunked") { $0.capacityJSONField = "capacity" })
            #expect(chunked.capacity == 0.25, "\(chunked)")
            let host = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/host") {
                $0.headers = ["Host": "api.example.com"]
                $0.bodyContains = "api.example.com"
            })
            #expect(host.passed, "\(host)")
            let defaultHost = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/host") { $0.bodyContains = "127.0.0.1:\(server.port)" })
            #expect(defaultHost.passed, "\(defaultHost)")
        }
    }

    @Test(arguments: [true, false])
    func unexpectedStatusAndMissingBodyTextFail(socketEngine: Bool) async throws {
        try await Self.withServer(socketEngine: socketEngine) { server, prober in
            let status = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/500"))
            #expect(status == .fail(.status, "status 500, expected 200"))
            let accepted = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/500") { $0.expectStatus = [500] })
            #expect(accepted.passed)
            let body = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/ok") { $0.bodyContains = "healthy" })
            #expect(body == .fail(.body, "body does not contain \"healthy\""))
        }
    }

    @Test(arguments: [true, false])
    func aTargetThatHangsFailsAsTimeout(socketEngine: Bool) async throws {
        try await Self.withServer(socketEngine: socketEngine) { server, prober in
            let outcome = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/hang", timeout: .milliseconds(300)))
            #expect(outcome.failure == .timeout)
        }
    }

    @Test(arguments: [true, false])
    func aHugeBodyIsReadOnlyUpToTheLimit(socketEngine: Bool) async throws {
        try await Self.withServer(socketEngine: socketEngine) { server, prober in
            let url = "http://127.0.0.1:\(server.port)/huge"
            // The word sits after 1 MiB; only 64 KiB are read, so it is not found.
            let outcome = await prober.probe(Self.http(url, { $0.bodyContains = "needle" }))
            #expect(outcome == .fail(.body, "first 65536 bytes of the body does not contain \"needle\""))
            let noCheck = await prober.probe(Self.http(url))
            #expect(noCheck.passed, "a large body is fine when nothing needs reading: \(noCheck)")
        }
    }

    @Test(arguments: [true, false])
    func garbageAndResetsAreClassified(socketEngine: Bool) async throws {
        try await Self.withServer(socketEngine: socketEngine) { server, prober in
            let garbage = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/garbage"))
            #expect(garbage.failure == .body, "\(garbage)")
            let reset = await prober.probe(Self.http("http://127.0.0.1:\(server.port)/reset"))
            #expect(reset.failure == .refused, "\(reset)")
        }
    }

    @Test(arguments: [true, false])
    func refusedAndUnresolvableTargets(socketEngine: Bool) async throws {
        let prober = Prober(socketEngine: socketEngine)
        let refused = try await Self.withRefusingPort { port in await prober.probe(Self.http("http://127.0.0.1:\(port)/")) }
        #expect(refused.failure == .refused, "\(refused)")
        // .invalid never resolves (RFC 6761), so no traffic leaves the machine.
        let dns = await prober.probe(Self.http("http://no-such-host.invalid/"))
        #expect(dns.failure == .dns, "\(dns)")
        let tcpDNS = await prober.probe(EndpointConfig(name: "t", check: .tcp(host: "no-such-host.invalid", port: 80)))
        #expect(tcpDNS.failure == .dns, "\(tcpDNS)")
        await prober.shutdown()
    }

    @Test func httpsVerifiesCertificatesUnlessToldNotTo() async throws {
        try await Self.withServer(tls: true) { server, prober in
            let url = "https://127.0.0.1:\(server.port)/ok"
            let untrusted = await prober.probe(Self.http(url))
            #expect(untrusted.failure == .tls, "\(untrusted)")
            let trusted = await prober.probe(Self.http(url) { $0.caFile = TargetServer.fixture("ca.pem") })
            #expect(trusted.passed, "\(trusted)")
            let unverified = await prober.probe(Self.http(url) { $0.tlsVerify = false })
            #expect(unverified.passed, "\(unverified)")
        }
    }

    @Test(arguments: [true, false])
    func tcpConnects(socketEngine: Bool) async throws {
        try await Self.withServer(socketEngine: socketEngine) { server, prober in
            let open = await prober.probe(EndpointConfig(name: "t", check: .tcp(host: "127.0.0.1", port: server.port)))
            #expect(open == .pass("connected"))
        }
        let prober = Prober(socketEngine: socketEngine)
        let closed = try await Self.withRefusingPort { port in
            await prober.probe(EndpointConfig(name: "t", check: .tcp(host: "127.0.0.1", port: port)))
        }
        #expect(closed.failure == .refused, "\(closed)")
        await prober.shutdown()
    }

    /// As for `http`: an outcome that is not a timeout gets all the time it needs. Under
    /// AddressSanitizer, with every suite starting at once on 2 cores, spawning `true`
    /// once took longer than 5 s.
    static func exec(_ arguments: [String], capacity: Bool = false, timeout: Duration = .seconds(60)) -> EndpointConfig {
        var check = ExecCheck(arguments: arguments)
        check.capacityFromStdout = capacity
        return EndpointConfig(name: "x", check: .exec(check), interval: .seconds(10), timeout: timeout)
    }

    @Test func execExitStatusAndCapacity() async {
        let prober = Prober()
        #expect(await prober.probe(Self.exec(["true"])) == .pass("exit 0"))
        #expect(await prober.probe(Self.exec(["/bin/sh", "-c", "echo down; exit 3"])) == .fail(.exec, "exit 3: down"))
        #expect(await prober.probe(Self.exec(["/bin/sh", "-c", "echo 42%"], capacity: true)).capacity == 0.42)
        #expect(await prober.probe(Self.exec(["/bin/sh", "-c", "echo lots"], capacity: true)).failure == .exec)
        let missing = await prober.probe(Self.exec(["/nonexistent/check"]))
        #expect(missing.failure == .exec)
        await prober.shutdown()
    }

    /// Only the first 4 KiB of stdout are kept; a chatty check is judged by its exit status.
    @Test func execOutputBeyondTheLimitIsReadAndDropped() async {
        let prober = Prober()
        let chatty = "head -c 100000 /dev/zero | tr '\\0' x; echo"
        #expect(await prober.probe(Self.exec(["/bin/sh", "-c", chatty])) == .pass("exit 0"))
        let failing = await prober.probe(Self.exec(["/bin/sh", "-c", chatty + "; exit 2"]))
        #expect(failing.failure == .exec)
        #expect(failing.detail.hasPrefix("exit 2: xxxx"), "\(failing.detail.prefix(40))")
        #expect(await prober.probe(Self.exec(["/bin/sh", "-c", "echo 75%; head -c 100000 /dev/zero"], capacity: true)).capacity == 0.75)
        await prober.shutdown()
    }

    @Test func execIsKilledAtItsTimeoutWithItsChildren() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("regiond-exec-\(UUID().uuidString)").path
        let prober = Prober()
        // The script starts a child that would outlive it, records its pid, then waits.
        let outcome = await prober.probe(
            Self.exec(["/bin/sh", "-c", "sleep 60 & echo $! > \(pidFile); wait"], timeout: .milliseconds(500)))
        #expect(outcome.failure == .timeout)
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // SIGKILL went to the whole group before the probe returned, but the child dies when the kernel next
        // schedules it, so on a busy machine it can still show "R" for a moment. Wait for its exit on a pidfd
        // (readable once the process has terminated), for up to 5 s: a child that was never signalled sleeps
        // for 60 s and fails this.
        let exited = try await NIOThreadPool.singleton.runIfActive { ProcessExit.wait(pid, milliseconds: 5000) }
        #expect(exited, "child \(pid) did not exit")
        let state = ProcessExit.state(pid)
        #expect(state == nil || state == "Z", "child \(pid) still alive: \(state ?? "")")
        try? FileManager.default.removeItem(atPath: pidFile)
        await prober.shutdown()
    }

    /// Runs `body` with a loopback port that refuses connections: a TCP socket bound to it
    /// but not listening. Holding the port (rather than binding and closing) keeps tests
    /// running in parallel, and the kernel's choice of ephemeral ports, off it.
    static func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
        let socket = try #require(LoopbackSocket.bind(), "bind 127.0.0.1:0: errno \(errno)")
        defer { close(socket.fd) }
        return try await body(socket.port)
    }
}

@Suite("HTTPVerdict")
struct HTTPVerdictTests {
    static func judge(_ check: HTTPCheck, status: Int = 200, headers: [String: String] = [:], body: String = "", truncated: Bool = false) -> ProbeOutcome {
        HTTPVerdict.judge(check: check, status: status, header: { headers[$0] }, body: Array(body.utf8), truncated: truncated, maxBody: 10)
    }

    @Test(arguments: [
        ("0.75", 0.75), ("75%", 0.75), ("1.5", 1.0), ("-3", 0.0), (" 20% ", 0.2),
    ])
    func capacityHeaderValues(_ value: String, _ expected: Double) {
        var check = HTTPCheck(url: "http://x/")
        check.capacityHeader = "X-Capacity"
        #expect(Self.judge(check, headers: ["X-Capacity": value]).capacity == expected)
    }

    @Test func badCapacityFailsTheProbe() {
        var check = HTTPCheck(url: "http://x/")
        check.capacityHeader = "X-Capacity"
        #expect(Self.judge(check, headers: ["X-Capacity": "lots"]).failure == .body)
        #expect(Self.judge(check).failure == .body)
        var json = HTTPCheck(url: "http://x/")
        json.capacityJSONField = "c"
        #expect(Self.judge(json, body: #"{"c": true}"#).failure == .body)
        #expect(Self.judge(json, body: "not json").failure == .body)
        #expect(Self.judge(json, body: #"{"c": 0.5}"#, truncated: true).failure == .body)
        #expect(Self.judge(json, body: #"{"c": "50%"}"#).capacity == 0.5)
    }

    @Test(arguments: [
        ("12", 12.0), ("0.5", 0.5), (" 3 ", 3.0), ("45s", 45.0), ("2m", 120.0), ("-1", nil), ("lots", nil), ("1e300", nil), ("nan", nil),
    ] as [(String, Double?)])
    func lagHeaderValues(_ value: String, _ expected: Double?) {
        var check = HTTPCheck(url: "http://x/")
        check.lagHeader = "X-Replication-Lag"
        let outcome = Self.judge(check, headers: ["X-Replication-Lag": value])
        // An unreadable lag leaves the lag unknown; the probe still passes (the service answered).
        #expect(outcome.passed)
        #expect(outcome.lag == expected)
        if expected == nil { #expect(outcome.detail.contains("lag unknown")) }
    }

    @Test func lagFromAJSONBody() {
        var check = HTTPCheck(url: "http://x/")
        check.lagJSONField = "replication.lag"
        #expect(Self.judge(check, body: #"{"replication": {"lag": 7}}"#).lag == 7)
        #expect(Self.judge(check, body: #"{"replication": {}}"#).lag == nil)
        #expect(Self.judge(check, body: #"{"replication": {"lag": 7}}"#, truncated: true).lag == nil)
        #expect(Self.judge(check, status: 503, body: #"{"replication": {"lag": 7}}"#).failure == .status)
    }

    @Test(arguments: [
        ("0.8\n12\n", true, 0.8, 12.0),
        ("0.8\n", true, 0.8, nil),
        ("0.8\nsoon\n", true, 0.8, nil),
        ("\n30s\n", false, nil, 30.0),
    ] as [(String, Bool, Double?, Double?)])
    func execLagIsTheSecondLine(_ stdout: String, _ capacityFromStdout: Bool, _ capacity: Double?, _ lag: Double?) {
        let outcome = ExecVerdict.judge(.exited(0), stdout: Array(stdout.utf8), capacityFromStdout: capacityFromStdout, lagFromStdout: true)
        #expect(outcome.passed)
        #expect(outcome.capacity == capacity)
        #expect(outcome.lag == lag)
    }
}

/// Endpoint answers through the probe's own pipeline (NIOHTTP1's decoder), without a socket.
@Suite("HTTP answers, framed by llhttp")
struct ResponseFramingTests {
    static func outcome(_ text: String, method: String = "GET", chunkSize: Int = .max, _ configure: (inout HTTPCheck) -> Void = { _ in }, maxBody: Int = 65_536) -> ProbeOutcome {
        var check = HTTPCheck(url: "http://127.0.0.1:9/healthz")
        check.method = method
        configure(&check)
        let bytes = Array(text.utf8)
        let chunks = stride(from: 0, to: bytes.count, by: min(chunkSize, max(bytes.count, 1))).map { Array(bytes[$0..<min($0 + chunkSize, bytes.count)]) }
        return ResponseReplay.outcome(of: chunks, check: check, maxBody: maxBody)
    }

    static let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    @Test(arguments: [1, 2, 7, 1000])
    func anAnswerSplitAnywhereReadsTheSame(chunkSize: Int) {
        #expect(Self.outcome(Self.ok, chunkSize: chunkSize) == .pass("status 200"))
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"capac\r\n10\r\nity\": 0.25, \"ok\"\r\n4\r\n: 1}\r\n0\r\n\r\n"
        #expect(Self.outcome(chunked, chunkSize: chunkSize) { $0.capacityJSONField = "capacity" }.capacity == 0.25)
    }

    /// An interim `100 Continue` is not the answer (it used to be judged: "status 100, expected 200").
    @Test func interimAnswersAreSkipped() {
        #expect(Self.outcome("HTTP/1.1 100 Continue\r\n\r\n" + Self.ok) == .pass("status 200"))
        #expect(Self.outcome("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" + Self.ok) == .pass("status 200"))
    }

    /// A chunk size of 7fffffffffffffff overflowed the hand-written dechunker and trapped the daemon.
    @Test(arguments: ["7fffffffffffffff", "ffffffffffffffffffff", "-1", "zz"])
    func hostileChunkSizesAreAFailedProbe(size: String) {
        let outcome = Self.outcome("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabc\r\n0\r\n\r\n") { $0.bodyContains = "abc" }
        #expect(outcome.failure == .body, "\(outcome)")
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nok", ProbeFailure.body),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", .body),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .body),
        ("\u{01}\u{02}NOT HTTP AT ALL\r\n\r\n", .body),
        ("HTTP/1.1 2000 OK\r\n\r\n", .body),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", .body),
        ("HTTP/1.1 200 OK\r\nContent-Le", .body),
        ("", .refused),
        ("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", .status),
    ])
    func badAnswersFailWithTheirClass(_ answer: String, _ failure: ProbeFailure) {
        #expect(Self.outcome(answer).failure == failure, "\(Self.outcome(answer))")
    }

    @Test func headersBeyondTheLimitFail() {
        let huge = "HTTP/1.1 200 OK\r\nX-Filler: " + String(repeating: "a", count: 20_000) + "\r\nContent-Length: 2\r\n\r\nok"
        #expect(Self.outcome(huge) == .fail(.body, "response headers larger than 16384 bytes"))
    }

    @Test func aHeadAnswerHasNoBodyWhateverItsLengthSays() {
        #expect(Self.outcome("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", method: "HEAD") == .pass("status 200"))
    }

    @Test func theBodyIsReadOnlyUpToItsLimit() {
        let big = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + String(repeating: "x", count: 90) + "needle...."
        #expect(Self.outcome(big, { $0.bodyContains = "needle" }, maxBody: 50) == .fail(.body, "first 50 bytes of the body does not contain \"needle\""))
        #expect(Self.outcome(big, { $0.bodyContains = "needle" }, maxBody: 100).passed)
    }

    @Test func anAnswerWithoutLengthEndsWithTheConnection() {
        #expect(Self.outcome("HTTP/1.0 200 OK\r\n\r\nall of it") { $0.bodyContains = "all of it" }.passed)
    }
}
