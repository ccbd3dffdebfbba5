import Foundation
import RegionTestSupport
import Testing

/// Debian's `prometheus`, started on loopback for one test: it scrapes regiond every
/// second, evaluates `etc/prometheus/regiond.rules.yml` every second, and sends its
/// alerts to an Alertmanager (an ``HTTPInbox`` of the test).
final class RealPrometheus: Sendable {
    let directory: String
    let port: Int
    let pid: pid_t

    private init(directory: String, port: Int, pid: pid_t) {
        self.directory = directory
        self.port = port
        self.pid = pid
    }

    /// - Parameter forDurations: what each rule's `for:` becomes. The rules hold for a
    ///   minute or two before they fire; `promtool test rules` covers those durations,
    ///   and here a test would wait them out for nothing.
    static func start(scraping target: Int, alertmanager: Int, forDurations: String = "1s") async throws -> RealPrometheus {
        let directory = try makeTempDirectory()
        let port = try BalancedHAProxy.freePort()
        let shipped = try String(contentsOf: Binaries.root.appendingPathComponent("etc/prometheus/regiond.rules.yml"), encoding: .utf8)
        let rules = shipped.replacingOccurrences(of: #"for: \d+[smh]"#, with: "for: \(forDurations)", options: .regularExpression)
        try rules.write(toFile: "\(directory)/rules.yml", atomically: true, encoding: .utf8)
        try """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: ["\(directory)/rules.yml"]
            alerting:
              alertmanagers:
                - static_configs:
                    - targets: ["127.0.0.1:\(alertmanager)"]
            scrape_configs:
              - job_name: regiond
                static_configs:
                  - targets: ["127.0.0.1:\(target)"]
            """.write(toFile: "\(directory)/prometheus.yml", atomically: true, encoding: .utf8)
        let command = [
            "/usr/bin/prometheus", "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ].joined(separator: " ")
        let run = try await runProgram("/bin/sh", ["-c", "\(command) >\(directory)/prometheus.log 2>&1 & echo $!"])
        let pid = try #require(pid_t(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "prometheus: \(run.stderr)")
        ProcessReaper.register(pid)
        return RealPrometheus(directory: directory, port: port, pid: pid)
    }

    var log: String { (try? String(contentsOfFile: "\(self.directory)/prometheus.log", encoding: .utf8)) ?? "" }

    /// `GET /api/v1/PATH?query=...` decoded as JSON.
    func api(_ path: String, query: String? = nil) async throws -> [String: Any] {
        var uri = "/api/v1/\(path)"
        if let query { uri += "?query=" + (query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query) }
        let answer = try await httpRequest(port: self.port, uri)
        let json = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        return try #require(json, "prometheus answered \(answer.status): \(answer.body.prefix(300))")
    }

    /// The value of an instant query that returns one series, or nil when it returns none.
    func value(of query: String) async throws -> String? {
        let data = try await self.api("query", query: query)["data"] as? [String: Any]
        let result = data?["result"] as? [[String: Any]] ?? []
        return (result.first?["value"] as? [Any])?.last as? String
    }

    /// The state (pending, firing) of each active alert named `name`.
    func alertStates(_ name: String) async throws -> [String] {
        let data = try await self.api("alerts")["data"] as? [String: Any]
        let alerts = data?["alerts"] as? [[String: Any]] ?? []
        return alerts.filter { ($0["labels"] as? [String: String])?["alertname"] == name }.compactMap { $0["state"] as? String }
    }

    func stop() async {
        kill(self.pid, SIGTERM)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                _ = ProcessExit.wait(self.pid, milliseconds: 10_000)
                done.resume()
            }
        }
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}
