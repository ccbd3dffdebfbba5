import Foundation
import Testing

@testable import RegionCore

@Suite("Config loading and validation")
struct ConfigLoaderTests {
    static let valid = """
        [daemon]
        control_socket = "/run/regiond/control.sock"

        [probe]
        interval = "2s"
        timeout = "500ms"

        [status]
        fall = 4
        degraded_error_rate = "15%"

        [[region]]
        id = "eu-west"
        tier = "primary"
        weight = 6000
          [[region.endpoint]]
          name = "api"
          url = "https://api.eu-west.example.com/healthz"
          expect_status = [200, 204]
          capacity_json = "load.capacity"
          [[region.endpoint]]
          tcp = "db.eu-west.example.com:5432"

        [[region]]
        id = "us-east"
        priority = 7
        weight = 4000
          [region.status]
          rise = 5
          [[region.endpoint]]
          exec = ["/usr/local/bin/check", "--fast"]
          interval = "10s"
          capacity_from_stdout = true
        """

    @Test func validConfigLoadsEveryKey() throws {
        let config = try ConfigLoader.parse(Self.valid, file: "regiond.toml")
        #expect(config.regions.map(\.id) == ["eu-west", "us-east"])
        let eu = try #require(config.region("eu-west"))
        #expect(eu.priority == 1)
        #expect(eu.weight == 6000)
        #expect(eu.endpoints.count == 2)
        #expect(eu.endpoints[0].timeout == .milliseconds(500))
        #expect(eu.endpoints[1].name == "db.eu-west.example.com:5432")
        guard case .http(let http) = eu.endpoints[0].check else { Issue.record("expected http"); return }
        #expect(http.expectStatus == [200, 204])
        #expect(http.capacityJSONField == "load.capacity")
        #expect(http.tlsVerify)
        #expect(eu.status.fall == 4)
        #expect(eu.status.degradedErrorRate == 0.15)
        let us = try #require(config.region("us-east"))
        #expect(us.priority == 7)
        #expect(us.status.rise == 5)
        #expect(us.status.fall == 4, "per-region thresholds start from the global ones")
        #expect(us.endpoints[0].name == "check")
        #expect(us.endpoints[0].interval == .seconds(10))
        guard case .exec(let exec) = us.endpoints[0].check else { Issue.record("expected exec"); return }
        #expect(exec.capacityFromStdout)
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var text: String
        var line: Int
        var key: String
        var message: String
        var testDescription: String { "\(self.key): \(self.message)" }
    }

    static let region = """
        [[region]]
        id = "a"
        weight = 1
        """

    static let badCases: [BadCase] = [
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  url = \"http://x/\"\n  intervl = \"1s\"", line: 6, key: "region[0].endpoint[0].intervl", message: "did you mean 'interval'"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  url = \"http://x/\"\n  timeout = \"fast\"", line: 6, key: "region[0].endpoint[0].timeout", message: "is not a duration"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  url = \"ftp://x/\"", line: 5, key: "region[0].endpoint[0].url", message: "not an http:// or https:// URL"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  tcp = \"db\"", line: 5, key: "region[0].endpoint[0].tcp", message: "is not host:port"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"\n  body_contains = \"ok\"", line: 6, key: "region[0].endpoint[0].body_contains", message: "only applies to url endpoints"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  url = \"http://x/\"\n  tcp = \"db:1\"", line: 6, key: "region[0].endpoint[0].tcp", message: "set only one of url, tcp, exec"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  exec = []", line: 5, key: "region[0].endpoint[0].exec", message: "give the command as an array"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  url = \"http://x/\"\n  expect_status = [200, 999]", line: 6, key: "region[0].endpoint[0].expect_status", message: "from 100 to 599"),
        BadCase(text: "[[region]]\nid = \"a\"\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 1, key: "region[0].weight", message: "needs a baseline weight"),
        BadCase(text: "[[region]]\nid = \"a b\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "region[0].id", message: "may only use letters"),
        BadCase(text: "[[region]]\nid = \"a\"\nweight = 1\ntier = \"gold\"\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 4, key: "region[0].tier", message: "not one of primary"),
        BadCase(text: "[[region]]\nid = \"a\"\nweight = -5\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 3, key: "region[0].weight", message: "out of range"),
        BadCase(text: "\(region)", line: 1, key: "region[0].endpoint", message: "region has no endpoints"),
        BadCase(text: "[status]\nunhealthy_error_rate = 0.05\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "status.unhealthy_error_rate", message: "below degraded_error_rate"),
        BadCase(text: "[status]\ndegraded_capacity = 1.5\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "status.degraded_capacity", message: "out of range"),
        BadCase(text: "[status]\nlatency_percentile = \"p90\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "status.latency_percentile", message: "not one of p50, p95, p99"),
        BadCase(text: "[daemon]\ncontrol_socket = \"relative.sock\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "daemon.control_socket", message: "absolute path"),
        BadCase(text: "[daemon]\nsocket_mode = \"rw\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "daemon.socket_mode", message: "octal mode"),
        BadCase(text: "[deamon]\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 1, key: "deamon", message: "unknown key"),
        BadCase(text: "\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 7, key: "region[1].id", message: "defined twice (first on line 2)"),
        BadCase(text: "[probe]\ninterval = 5\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "probe.interval", message: "expected a duration in quotes"),
        BadCase(text: "", line: 0, key: "region", message: "no regions configured"),
        BadCase(text: "[haproxy]\nbackend = \"app\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 1, key: "haproxy.socket", message: "needs the runtime API socket"),
        BadCase(text: "[haproxy]\nsocket = \"admin.sock\"\nbackend = \"app\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "haproxy.socket", message: "absolute path"),
        BadCase(text: "[haproxy]\nsocket = \"/run/haproxy/admin.sock\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 1, key: "haproxy.backend", message: "needs the backend"),
        BadCase(text: "[haproxy]\nsocket = \"/s\"\nbackend = \"app\"\ntimeout = \"5m\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 4, key: "haproxy.timeout", message: "out of range"),
        BadCase(text: "\(region)\nhaproxy_server = \"\"\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 4, key: "region[0].haproxy_server", message: "must not be empty"),
        BadCase(text: "[hook]\ntimeout = \"1s\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 1, key: "hook.command", message: "needs the command to run"),
        BadCase(text: "[hook]\ncommand = []\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "hook.command", message: "give the command as an array"),
        BadCase(text: "[hook]\ncommand = \"/bin/true\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 2, key: "hook.command", message: "expected an array of strings"),
        BadCase(text: "[hook]\ncommand = [\"/bin/true\"]\ntimeout = \"1h\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 3, key: "hook.timeout", message: "out of range"),
        BadCase(text: "[haproxy]\nsocket = \"/s\"\nbackend = \"app\"\nreapply_interval = \"100ms\"\n\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"", line: 4, key: "haproxy.reapply_interval", message: "out of range"),
        BadCase(
            text: "\(region)\n  [[region.endpoint]]\n  tcp = \"db:1\"\n[[region]]\nid = \"us-east\"\nweight = 1\nhaproxy_server = \"a\"\n  [[region.endpoint]]\n  tcp = \"db:1\"",
            line: 9, key: "region[1].haproxy_server", message: "HAProxy server 'a' already carries region 'a'"),
        // Syntax errors carry the line and no key.
        BadCase(text: "[[region]]\nid = eu-west", line: 2, key: "", message: "strings need quotes"),
        BadCase(text: "[[region]]\nid = \"eu-west", line: 2, key: "", message: "not closed"),
        BadCase(text: "[daemon]\n[daemon]", line: 2, key: "", message: "defined twice"),
        BadCase(text: "a = 1\na = 2", line: 2, key: "", message: "set twice (first on line 1)"),
        BadCase(text: "weight 5", line: 1, key: "", message: "expected '='"),
    ]

    @Test(arguments: badCases)
    func badConfigNamesFileLineAndKey(_ bad: BadCase) {
        do {
            _ = try ConfigLoader.parse(bad.text, file: "/etc/regiond/regiond.toml")
            Issue.record("expected an error for \(bad.key)")
        } catch {
            let match = error.issues.first { $0.key == bad.key && $0.message.contains(bad.message) }
            #expect(match != nil, "got: \(error.description)")
            #expect(match?.line == bad.line, "got: \(error.description)")
            #expect(match?.file == "/etc/regiond/regiond.toml")
            if let match {
                let expectedPrefix = bad.line > 0 ? "/etc/regiond/regiond.toml:\(bad.line): " : "/etc/regiond/regiond.toml: "
                #expect(match.description.hasPrefix(expectedPrefix))
            }
        }
    }

    @Test func haproxySettingsAndServerNames() throws {
        let text = """
            [haproxy]
            socket = "/run/haproxy/admin.sock"
            backend = "app"
            timeout = "500ms"

            [[region]]
            id = "eu-west"
            weight = 6000
            haproxy_server = "eu1"
              [[region.endpoint]]
              tcp = "db:1"

            [[region]]
            id = "us-east"
            weight = 4000
              [[region.endpoint]]
              tcp = "db:1"
            """
        let config = try ConfigLoader.parse(text, file: "t.toml")
        #expect(config.haproxy == [HAProxySettings(socket: "/run/haproxy/admin.sock", backend: "app", timeout: .milliseconds(500), reapplyInterval: .seconds(30))])
        #expect(config.haproxy.first?.target == "haproxy")
        #expect(config.haproxyServers == [HAProxyServer(region: "eu-west", server: "eu1"), HAProxyServer(region: "us-east", server: "us-east")])
        #expect(try ConfigLoader.parse(text.replacingOccurrences(of: "timeout = \"500ms\"\n", with: ""), file: "t.toml").haproxy.first?.timeout == .seconds(2))
        let reapply = try ConfigLoader.parse(text.replacingOccurrences(of: "timeout = \"500ms\"", with: "reapply_interval = \"5m\""), file: "t.toml")
        #expect(reapply.haproxy.first?.reapplyInterval == .seconds(300))
    }

    /// Several load balancers, each named, with its own state file, servers and drain style.
    @Test func severalHAProxies() throws {
        let regions = "[[region]]\nid = \"eu\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"db:1\"\n[[region]]\nid = \"us\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"db:1\"\n"
        let two = """
            [[haproxy]]
            name = "edge-1"
            socket = "/run/haproxy-1/admin.sock"
            backend = "app"
            state_file = "/var/lib/haproxy/server-state"
            zero_share = "drain"
            watch_interval = "250ms"
            [[haproxy]]
            name = "edge-2"
            socket = "/run/haproxy-2/admin.sock"
            backend = "web"
            servers = { eu = "eu-web" }

            """
        let config = try ConfigLoader.parse(two + regions, file: "t.toml")
        #expect(config.haproxy.map(\.target) == ["haproxy:edge-1", "haproxy:edge-2"])
        #expect(config.haproxy[0].stateFile == "/var/lib/haproxy/server-state")
        #expect(config.haproxy[0].zeroShare == .drain)
        #expect(config.haproxy[0].watchInterval == .milliseconds(250))
        #expect(config.haproxy[1].servers(for: config.haproxyServers).map(\.server) == ["eu-web", "us"])
        #expect(config.planTargets.names == ["state_file", "haproxy:edge-1", "haproxy:edge-2"])
        let bad: [(String, String)] = [
            (two.replacingOccurrences(of: "name = \"edge-2\"\n", with: ""), "each needs a name"),
            (two.replacingOccurrences(of: "edge-2", with: "edge-1"), "has the name 'edge-1'"),
            (two.replacingOccurrences(of: "eu = \"eu-web\"", with: "mars = \"x\""), "names region 'mars'"),
            (two.replacingOccurrences(of: "eu = \"eu-web\"", with: "eu = \"us\""), "two regions would share one server"),
            (two.replacingOccurrences(of: "zero_share = \"drain\"", with: "zero_share = \"maint\""), "not one of weight, drain"),
            (two.replacingOccurrences(of: "\"/var/lib/haproxy/server-state\"", with: "\"server-state\""), "must be an absolute path"),
        ]
        for (text, message) in bad {
            do {
                _ = try ConfigLoader.parse(text + regions, file: "t.toml")
                Issue.record("accepted: \(message)")
            } catch {
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }

    @Test func aHookCommandAndItsTimeout() throws {
        let region = "[[region]]\nid = \"a\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"db:1\"\n"
        let config = try ConfigLoader.parse("[hook]\ncommand = [\"/usr/local/bin/apply-plan\", \"--dns\"]\n" + region, file: "t.toml")
        #expect(config.hook == PlanHook(command: ["/usr/local/bin/apply-plan", "--dns"], timeout: .seconds(10)))
        #expect(config.planTargets.hook == config.hook)
        let quick = try ConfigLoader.parse("[hook]\ncommand = [\"notify\"]\ntimeout = \"500ms\"\n" + region, file: "t.toml")
        #expect(quick.hook?.timeout == .milliseconds(500))
        #expect(try ConfigLoader.parse(region, file: "t.toml").hook == nil)
    }

    @Test func everyProblemIsReportedNotJustTheFirst() {
        let text = "[probe]\njitter = 0.9\ntimeout = \"x\"\n[[region]]\nid = \"a\"\n"
        do {
            _ = try ConfigLoader.parse(text, file: "f.toml")
            Issue.record("expected errors")
        } catch {
            let keys = Set(error.issues.map(\.key))
            #expect(keys.isSuperset(of: ["probe.jitter", "probe.timeout", "region[0].weight", "region[0].endpoint"]))
        }
    }

    @Test func missingFileSaysSo() {
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/regiond.toml")
            Issue.record("expected an error")
        } catch {
            #expect(error.issues.count == 1)
            #expect(error.description.hasPrefix("/nonexistent/regiond.toml: cannot read the file: No such file or directory"))
        }
    }

    /// The reason is the system's (errno) or the text's, never a generic one.
    @Test func unreadableFilesSayWhy() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let latin1 = directory.appendingPathComponent("latin1.toml")
        try Data([0x23, 0x20, 0xE9, 0x0A]).write(to: latin1)  // "# é" in Latin-1
        let cases = [(latin1.path, "not valid UTF-8"), (directory.path, "Is a directory")]
        for (path, reason) in cases {
            #expect(throws: ConfigError.self) { try ConfigLoader.load(path: path) }
            do {
                _ = try ConfigLoader.load(path: path)
            } catch {
                #expect(error.description.contains("cannot read the file: \(reason)"), "\(error.description)")
            }
        }
    }

    @Test func bundledConfigsAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["demo.toml", "regiond.toml"] {
            let path = root.appendingPathComponent("etc/regiond/\(name)").path
            let config = try ConfigLoader.load(path: path)
            #expect(!config.regions.isEmpty, "\(name)")
        }
    }

    @Test func reloadEqualityIgnoresLineNumbers() throws {
        let a = try ConfigLoader.parse(Self.valid, file: "a")
        let b = try ConfigLoader.parse("\n\n" + Self.valid, file: "a")
        #expect(a.regions[0].line != b.regions[0].line)
        #expect(a.regions[0].sameSettings(as: b.regions[0]))
        var c = b.regions[0]
        c.endpoints[0].timeout = .seconds(1)
        #expect(!a.regions[0].sameSettings(as: c))
    }
}
