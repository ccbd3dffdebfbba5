import Foundation
import NIOCore
import NIOPosix
import RegionCore
import Subprocess
import Testing

/// One HTTP/1.1 request on a fresh connection; the whole answer (head and body).
func httpRequest(port: Int, _ path: String, method: String = "GET", headers: String = "") async throws -> (status: Int, body: String, head: String) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port)
        .flatMapThrowing { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: $0) }.get()
    let answer = try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: "\(method) \(path) HTTP/1.1\r\nHost: regiond\r\nConnection: close\r\n\(headers)\r\n"))
        var answer = ""
        for try await var chunk in inbound { answer += chunk.readString(length: chunk.readableBytes) ?? "" }
        return answer
    }
    let status = Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
    let split = answer.range(of: "\r\n\r\n")
    let body = split.map { String(answer[$0.upperBound...]) } ?? ""
    let head = split.map { String(answer[..<$0.lowerBound]) } ?? answer
    return (status, body, head)
}

/// The ids `/events` sends after `Last-Event-ID: lastEventID`, until it has sent `until`.
func sseEvents(port: Int, lastEventID: UInt64, until last: UInt64) async throws -> [UInt64] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port)
        .flatMapThrowing { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: $0) }.get()
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: "GET /events HTTP/1.1\r\nHost: regiond\r\nLast-Event-ID: \(lastEventID)\r\n\r\n"))
        var text = ""
        var ids: [UInt64] = []
        var iterator = inbound.makeAsyncIterator()
        while ids.last.map({ $0 < last }) ?? true, var chunk = try await iterator.next() {
            text += chunk.readString(length: chunk.readableBytes) ?? ""
            // By lines ("\r\n" of the chunked framing is one Character: split on any newline).
            ids = text.split(whereSeparator: \.isNewline).compactMap { $0.hasPrefix("id: ") ? UInt64($0.dropFirst(4)) : nil }
        }
        return ids
    }
}

/// The value of the sample of `name` whose labels include `labels`, from Prometheus text.
func sample(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        let key = line[..<space]
        guard key == name || key.hasPrefix(name + "{") else { continue }
        guard labels.allSatisfy({ key.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
        return Double(line[line.index(after: space)...])
    }
    return nil
}

@Suite("metrics end to end", .serialized)
struct MetricsEndToEndTests {
    @Test func aScrapeIsValidAndFollowsAFailover() async throws {
        let port = try BalancedHAProxy.freePort()
        let metrics = "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n"
        try await failoverScenario("cooldown = \"0s\"", edit: { $0 + metrics }) { daemon, eu in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let first = try await httpRequest(port: port, "/metrics")
            #expect(first.status == 200)
            #expect(sample(first.body, "regiond_build_info", ["version": RegiondVersion.string]) == 1)
            #expect(sample(first.body, "regiond_region_status", ["region": "eu-west", "status": "healthy"]) == 1)
            #expect(sample(first.body, "regiond_region_status", ["region": "eu-west", "status": "unhealthy"]) == 0)
            #expect(sample(first.body, "regiond_region_plan_weight", ["region": "eu-west"]) == 6000)
            #expect(sample(first.body, "regiond_region_failover_phase", ["region": "eu-west", "phase": "serving"]) == 1)
            #expect((sample(first.body, "regiond_endpoint_probes_total", ["region": "eu-west", "result": "pass"]) ?? 0) >= 2)
            #expect(sample(first.body, "regiond_plan_target_up", ["target": "state_file"]) == 1)
            #expect((sample(first.body, "process_resident_memory_bytes") ?? 0) > 1_000_000)
            #expect((sample(first.body, "process_open_fds") ?? 0) > 3)
            #expect(sample(first.body, "regiond_probe_start_lateness_seconds_count").map { $0 > 0 } == true)

            // promtool (Debian's prometheus package) accepts it.
            let file = "\(daemon.directory)/scrape.txt"
            try first.body.write(toFile: file, atomically: true, encoding: .utf8)
            let lint = try await runProgram("/bin/sh", ["-c", "promtool check metrics < \(file)"])
            #expect(lint.status == 0, "promtool: \(lint.stdout)\(lint.stderr)")

            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            let watching = try await httpRequest(port: port, "/metrics").body
            #expect(sample(watching, "regiond_control_clients") == 1, "the watcher")
            eu.set(.error)
            _ = try await watch.readLine(containingAll: [#""kind":"failover_started""#, #""region":"eu-west""#])
            await watch.close()
            let after = try await httpRequest(port: port, "/metrics").body
            #expect(sample(after, "regiond_region_plan_weight", ["region": "eu-west"]) == 0)
            #expect(sample(after, "regiond_region_failover_phase", ["region": "eu-west", "phase": "failed_over"]) == 1)
            let failovers = after.split(separator: "\n").filter { $0.hasPrefix("regiond_failovers_total{") && $0.contains(#"strategy="automatic""#) }
            #expect(failovers.count == 1, "\(failovers)")
            #expect(sample(after, "regiond_control_requests_total", ["command": "watch", "code": "ok"]) == 1)
            #expect((sample(after, "regiond_endpoint_probes_total", ["region": "eu-west", "result": "status"]) ?? 0) >= 1)
            #expect((sample(after, "regiond_state_commit_duration_seconds_count") ?? 0) >= 1)
            #expect(sample(after, "regiond_failover_detection_seconds_count") == 1, "time to detect, observed once")

            // OpenMetrics, when the scraper asks for it as Prometheus does.
            let open = try await httpRequest(port: port, "/metrics", headers: "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n")
            #expect(open.head.lowercased().contains("content-type: application/openmetrics-text; version=1.0.0"), "\(open.head)")
            #expect(open.body.hasSuffix("# EOF\n"))
            #expect(open.body.contains("# TYPE regiond_failovers counter\n"))
            #expect(sample(open.body, "regiond_region_plan_weight", ["region": "eu-west"]) == 0)

            // Every family a scrape has is in docs/observability.md's table.
            let documented = try String(contentsOf: Binaries.root.appendingPathComponent("docs/observability.md"), encoding: .utf8)
            let families = after.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
            let undocumented = families.filter { !documented.contains("`\($0)`") }
            #expect(undocumented.isEmpty, "not in docs/observability.md: \(undocumented)")

            #expect(try await httpRequest(port: port, "/nope").status == 404)
            #expect(try await httpRequest(port: port, "/metrics", method: "POST").status == 405)
        }
    }

    /// One order everywhere (issue 24, finding 5): `watch`, `/events` and the history give
    /// the same ids in the same order, a decision before the plan_applied it causes, the
    /// page's last events newest first; and `/events` resumed with `Last-Event-ID` misses
    /// nothing and repeats nothing.
    @Test(.timeLimit(.minutes(1))) func everySinkHasTheSameOrderAndAResumedStreamHasNoGap() async throws {
        let port = try BalancedHAProxy.freePort()
        let metrics = "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n"
        try await failoverScenario("cooldown = \"0s\"", edit: { $0 + metrics }) { daemon, eu in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let settled = try await history(daemon)
            let seen = try #require(settled.last?.id)
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            eu.set(.error)
            var watched: [Event] = []
            while !watched.contains(where: { $0.kind == .planApplied && $0.fields["plan"] == "eu-west=0 us-east=10000" }) {
                let line = try #require(try await watch.readLine())
                watched.append(try ControlProtocol.decoder().decode(WatchLine.self, from: Data(line.utf8)).event)
            }
            await watch.close()
            let started = try #require(watched.firstIndex { $0.kind == .failoverStarted })
            let applied = try #require(watched.firstIndex { $0.kind == .planApplied && $0.fields["plan"] == "eu-west=0 us-east=10000" })
            #expect(started < applied, "\(watched.map { "\($0.id) \($0.kind.rawValue)" })")
            #expect(watched.map(\.id) == watched.map(\.id).sorted())
            // The page's last events, newest first.
            let page = try JSONSerialization.jsonObject(with: Data(try await httpRequest(port: port, "/api/status").body.utf8)) as? [String: Any]
            let pageIDs = (page?["events"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
            #expect(!pageIDs.isEmpty && pageIDs == pageIDs.sorted(by: >), "\(pageIDs)")
            // Resumed after the last event seen before the fault: exactly what was recorded
            // since, in order, then nothing twice.
            let recorded = try await history(daemon).filter { $0.id > seen }.map(\.id)
            let resumed = try await sseEvents(port: port, lastEventID: seen, until: try #require(recorded.last))
            #expect(resumed == recorded, "resumed \(resumed) but recorded \(recorded)")
        }
    }

    /// Prometheus keeps its connection open between scrapes. Such a connection used to
    /// hold the stop open: `make bench` saw regiond ignore SIGTERM for 30 s.
    @Test func aKeepAliveScraperDoesNotHoldTheStop() async throws {
        let port = try BalancedHAProxy.freePort()
        try await scenario({ target in fastConfig(targets: [("eu-west", target)]) + "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n" }) { daemon, _ in
            try await daemon.notify.wait(for: "READY=1")
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port)
                .flatMapThrowing { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: $0) }.get()
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: regiond\r\n\r\n"))
                var answer = ""
                var iterator = inbound.makeAsyncIterator()
                while !answer.contains("regiond_build_info{"), var chunk = try await iterator.next() {
                    answer += chunk.readString(length: chunk.readableBytes) ?? ""
                }
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(200))")
                #expect(!answer.lowercased().contains("connection: close"), "the scrape's connection stays open")
                daemon.signal(SIGTERM)
                #expect(try await daemon.waitForExit(limit: .seconds(10)) == .exited(0), "\(daemon.stderr.suffix(600))")
                // The daemon closed the scraper's connection on its way out.
                while try await iterator.next() != nil {}
            }
        }
    }
}
