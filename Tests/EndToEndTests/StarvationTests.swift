import Foundation
import NIOCore
import NIOPosix
import RegionCore
import Testing

/// regiond pressed from outside: out of file descriptors, flooded by a client that does not
/// read, starved of CPU. It must stay up, keep answering, and not blame the regions.
@Suite("regiond starved or pressed", .serialized)
struct StarvationTests {
    /// `count` endpoints in each of `regions` regions, all on `port`.
    static func manyEndpoints(port: Int, regions: [String], count: Int, probe: String, status: String = "", daemon: String = "", failover: String = "") -> String {
        var text = """
            [daemon]
            control_socket = "@SOCKET@"
            state_directory = "@DIR@"
            \(daemon)

            [probe]
            \(probe)

            [status]
            \(status)

            [failover]
            \(failover)

            """
        for region in regions {
            text += "\n[[region]]\nid = \"\(region)\"\nweight = 100\n"
            for index in 0..<count {
                text += "  [[region.endpoint]]\n  name = \"e\(index)\"\n  url = \"http://127.0.0.1:\(port)/healthz/\(region)/\(index)\"\n"
            }
        }
        return text
    }

    /// `ulimit -n 64` with 60 endpoints that hold their sockets (the target never answers)
    /// and 20 control clients: probes that find no descriptor fail as `local` (not counted
    /// against the region), every client is answered, nothing crashes.
    /// (It once could not run under ThreadSanitizer: TSan matches suppressions by symbol
    /// through llvm-symbolizer, which this limit leaves no descriptor for, so the known
    /// `Mutex.withLock` report in ProbeStatistics went unsuppressed. That lock is NIO's
    /// now, and TSan reports nothing to suppress.)
    @Test(.timeLimit(.minutes(2 * testSlowdown)))
    func outOfFileDescriptorsProbesFailAsLocalAndTheSocketStillAnswers() async throws {
        try await scenario(
            { port in
                Self.manyEndpoints(
                    port: port, regions: ["eu", "us", "ap"], count: 20, probe: "interval = \"600ms\"\ntimeout = \"500ms\"\njitter = 0",
                    status: "evaluation_interval = \"200ms\"\nmin_samples = 2\nfall = 2\nrise = 2")
            }, wrapper: ["/usr/bin/prlimit", "--nofile=64:64", "--"]
        ) { daemon, target in
            target.set(.hang)
            try await daemon.notify.wait(for: "READY=1")
            #expect(daemon.stderr.contains("file descriptors: limit 64"), "\(daemon.stderr.prefix(2000))")
            // Probes that got a socket time out: the regions turn unhealthy, which is news.
            // (STATUS= keeps its history; a watch opened now could miss the change.)
            try await daemon.notify.wait(for: " unhealthy")
            // Twenty clients at once, each answered.
            var clients: [ControlConnection] = []
            for _ in 0..<20 { clients.append(try await ControlConnection.open(daemon.socketPath)) }
            for client in clients { try await client.send(#"{"cmd":"status"}"#) }
            for client in clients {
                let reply = try #require(try await client.readLine())
                #expect(reply.contains(#""ok":true"#), "\(reply.prefix(300))")
                await client.close()
            }
            // Probes that found no descriptor say so, classified, and were not counted.
            var local: [EndpointReport] = []
            for region in ["eu", "us", "ap"] {
                let report = try await daemon.call("region", region: region, as: RegionReport.self)
                local += report.endpoints.filter { $0.last?.failure == .local }
            }
            #expect(!local.isEmpty, "no probe was refused a descriptor")
            for endpoint in local {
                #expect(endpoint.last?.detail.contains("no file descriptor to spare") == true, "\(endpoint.last?.detail ?? "")")
                #expect(endpoint.last?.notCounted != nil)
            }
            #expect(!daemon.stderr.contains("Fatal error"))
            #expect(try await daemon.call("version", as: VersionReport.self).protocolVersion == 1)
        }
    }

    /// A client that writes requests and never reads the replies: its replies back up,
    /// regiond drops it after `client_idle_timeout`, its memory stays bounded, and other
    /// clients are served meanwhile.
    @Test(.timeLimit(.minutes(2 * testSlowdown)))
    func aClientThatFloodsWithoutReadingIsDroppedAndOthersAreServed() async throws {
        try await scenario({ port in
            // The control loop parses the flood while others connect; under a sanitizer it can
            // be busy for longer than 1 s, and a new client would look idle before it is read.
            fastConfig(targets: [("eu-west", port)], daemon: "client_idle_timeout = \"\(testSlowdown)s\"\nmax_request_bytes = 2048")
        }) { daemon, _ in
            try await daemon.notify.wait(for: "READY=1")
            let before = daemon.residentBytes
            // 50,000 status requests: about 50 MB of replies if regiond kept them all.
            let flood = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.autoRead, value: false)
                .connect(unixDomainSocketPath: daemon.socketPath).get()
            let request = #"{"cmd":"status"}"# + "\n"
            flood.writeAndFlush(ByteBuffer(string: String(repeating: request, count: 50_000)), promise: nil)
            // Others are served while the flooder is stuck.
            #expect(try await daemon.call("version", as: VersionReport.self).protocolVersion == 1)
            // The flooder is dropped (its pending writes fail once regiond closes).
            try await within(.seconds(60), "regiond to drop the flooding client") {
                try await withTaskCancellationHandler {
                    try await flood.closeFuture.get()
                } onCancel: {
                    flood.close(promise: nil)
                }
            }
            let grown = daemon.residentBytes - before
            // Under AddressSanitizer (make test-sanitize) every allocation carries redzones
            // (three times the pages), and freed memory sits in its quarantine until that is
            // full: up to quarantine_size_mb (256 MB unless ASAN_OPTIONS says; the script
            // sets 64) more. One ASan run grew 298 MB with the default quarantine.
            let asan = ProcessInfo.processInfo.environment["ASAN_OPTIONS"]
            let quarantine = asan.map { options in
                options.split(separator: ":").first { $0.hasPrefix("quarantine_size_mb=") }
                    .flatMap { Int($0.dropFirst("quarantine_size_mb=".count)) } ?? 256
            }
            let bound = (quarantine.map { 96 + $0 } ?? 32) << 20
            #expect(grown < bound, "resident memory grew by \(grown >> 20) MB")
            #expect(try await daemon.call("status", as: StatusReport.self).regions.count == 1)
        }
    }
}

/// A CPU cgroup the test makes, to starve one process (cgroup v1 `cpu`, or v2 `cpu.max`).
struct CPUStarvation {
    let directory: String
    let v1: Bool

    /// Makes the cgroup; the caller moves a process in with `add`.
    static func make() throws -> CPUStarvation {
        let name = "regiond-test-\(UUID().uuidString.prefix(8))"
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us") {
            let directory = "/sys/fs/cgroup/cpu/\(name)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            return CPUStarvation(directory: directory, v1: true)
        }
        let directory = "/sys/fs/cgroup/\(name)"
        try "+cpu".write(toFile: "/sys/fs/cgroup/cgroup.subtree_control", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return CPUStarvation(directory: directory, v1: false)
    }

    /// Limits the group to `percent` of one CPU (per 100 ms period), or lifts the limit (nil).
    func limit(percent: Int?) throws {
        if self.v1 {
            try "100000".write(toFile: "\(self.directory)/cpu.cfs_period_us", atomically: false, encoding: .utf8)
            try (percent.map { "\($0 * 1000)" } ?? "-1").write(toFile: "\(self.directory)/cpu.cfs_quota_us", atomically: false, encoding: .utf8)
        } else {
            try (percent.map { "\($0 * 1000) 100000" } ?? "max 100000").write(toFile: "\(self.directory)/cpu.max", atomically: false, encoding: .utf8)
        }
    }

    func add(_ pid: pid_t) throws {
        try "\(pid)".write(toFile: "\(self.directory)/cgroup.procs", atomically: false, encoding: .utf8)
    }

    /// Moves `pid` back to the root group (if it still runs) and removes the group.
    func remove(_ pid: pid_t) {
        let root = self.v1 ? "/sys/fs/cgroup/cpu/cgroup.procs" : "/sys/fs/cgroup/cgroup.procs"
        try? "\(pid)".write(toFile: root, atomically: false, encoding: .utf8)
        rmdir(self.directory)
    }
}

extension StarvationTests {
    /// regiond starved of CPU (3% of one core, while its probes need many times that)
    /// holds: no region changes status and no traffic moves, and it says so. Once it
    /// has CPU again it resumes, and a region that really fails then fails over.
    @Test(.timeLimit(.minutes(3 * testSlowdown)))
    func aStarvedDaemonHoldsInsteadOfFailingOverHealthyRegions() async throws {
        let steady = try await SwitchableTarget.start()
        defer { Task { await steady.stop() } }
        try await scenario({ port in
            // Under a sanitizer (several times slower) fewer endpoints: regiond must keep its
            // schedule when it has the CPU, and still need far more than 3% of a core.
            let count = testSlowdown > 1 ? 10 : 30
            var text = Self.manyEndpoints(
                port: port, regions: ["eu"], count: count, probe: "interval = \"100ms\"\ntimeout = \"2s\"\njitter = 0",
                status: "window = \"2s\"\nevaluation_interval = \"100ms\"\nmin_samples = 2\nfall = 2\nrise = 2",
                failover: "cooldown = \"0s\"")
            text += "\n[[region]]\nid = \"us\"\nweight = 100\n"
            for index in 0..<count { text += "  [[region.endpoint]]\n  name = \"e\(index)\"\n  url = \"http://127.0.0.1:\(steady.port)/healthz/\(index)\"\n" }
            return text
        }) { daemon, eu in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()

            let group = try CPUStarvation.make()
            defer { group.remove(daemon.pid) }
            try group.limit(percent: 3)
            try group.add(daemon.pid)
            let held = try await watch.readLine(containing: #""kind":"decisions_held""#, limit: .seconds(60))
            #expect(held.contains("regiond is overloaded"))
            _ = try await daemon.notify.wait(for: "DECISIONS HELD", limit: .seconds(60))
            // Starved for a while: let many probes go uncounted before giving the CPU back.
            let status = try await daemon.call("status", as: StatusReport.self)
            #expect(status.decisionsHeld != nil)
            try group.limit(percent: nil)
            _ = try await watch.readLine(containing: #""kind":"decisions_resumed""#, limit: .seconds(60))

            // Nothing moved: no status change since the regions turned healthy, no failover.
            let quiet = try await history(daemon)
            let moves = quiet.filter { [.failoverStarted, .failoverBlocked, .noHealthyTarget].contains($0.kind) }
            #expect(moves.isEmpty, "\(moves.map(\.message))")
            let changes = quiet.filter { $0.kind == .statusChanged && $0.fields["previous_status"] != "unknown" }
            #expect(changes.isEmpty, "\(changes.map(\.message))")
            #expect(try await traffic(daemon).regions.map(\.weight) == [5000, 5000])

            // With its CPU back, a region that really fails fails over.
            eu.set(.error)
            let moved = try await watch.readLine(containing: #""kind":"failover_started""#, limit: .seconds(60))
            #expect(moved.contains(#""region":"eu""#))
            await watch.close()
        }
    }
}
