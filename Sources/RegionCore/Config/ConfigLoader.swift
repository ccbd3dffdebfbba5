import Foundation

/// Reads and validates a regiond configuration file.
///
/// Every problem is collected with its file, line and full key; a config with
/// any problem is rejected whole, so the daemon never runs half-configured.
public enum ConfigLoader {
    /// Reads `path` and validates it.
    public static func load(path: String) throws(ConfigError) -> Config {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = (error as NSError).localizedFailureReason ?? "\(error.localizedDescription)"
            throw ConfigError(issues: [ConfigIssue(file: path, line: 0, key: "", message: "cannot read the file: \(reason)")])
        }
        return try self.parse(text, file: path)
    }

    /// Validates configuration text; `file` is used in messages only.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> Config {
        let document: TOMLDocument
        do {
            document = try TOMLDocument(parsing: text)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: file, line: error.line, key: "", message: error.message)])
        }
        var root = TableReader(table: document.root, file: file, prefix: "")
        var config = Config(regions: [])

        if var daemon = root.table("daemon") {
            self.readDaemon(&daemon, into: &config.daemon)
            root.absorb(daemon)
        }
        if var probe = root.table("probe") {
            self.readProbeDefaults(&probe, into: &config.probe)
            root.absorb(probe)
        }
        if var status = root.table("status") {
            self.readThresholds(&status, into: &config.status)
            root.absorb(status)
        }
        if var failover = root.table("failover") {
            self.readFailover(&failover, into: &config.failover)
            root.absorb(failover)
        }
        config.haproxy = self.readHAProxies(&root)
        if var hook = root.table("hook") {
            config.hook = self.readHook(&hook)
            root.absorb(hook)
        }
        if let regions = root.tables("region") {
            var seen: [String: Int] = [:]
            var servers: [String: String] = [:]
            for var reader in regions {
                if let region = self.readRegion(&reader, config: config) {
                    let server = region.haproxyServer ?? region.id
                    if let first = seen[region.id] {
                        reader.issue("id", "region '\(region.id)' is defined twice (first on line \(first))")
                    } else if let other = servers[server] {
                        // Two regions on one server: the later weight would silently win.
                        reader.issue(region.haproxyServer == nil ? "id" : "haproxy_server", "HAProxy server '\(server)' already carries region '\(other)'; set haproxy_server")
                    } else {
                        seen[region.id] = reader.line(of: "id")
                        servers[server] = region.id
                        config.regions.append(region)
                    }
                }
                root.absorb(reader)
            }
        } else if !root.has("region") {
            root.issue("region", "no regions configured; add at least one [[region]] section", line: 0)
        }
        for haproxy in config.haproxy {
            let where_ = haproxy.name.isEmpty ? "[haproxy]" : "[[haproxy]] \(haproxy.name)"
            for region in haproxy.servers.keys.sorted() where config.region(region) == nil {
                root.issue("haproxy", "\(where_) servers names region '\(region)', which is not configured", line: 0)
            }
            let servers = haproxy.servers(for: config.haproxyServers).map(\.server)
            if Set(servers).count != servers.count {
                root.issue("haproxy", "\(where_): two regions would share one server of backend \(haproxy.backend); give each its own in servers", line: 0)
            }
        }
        if !config.regions.isEmpty, !config.regions.contains(where: { $0.enabled && $0.weight > 0 }) {
            root.issue("region", "no enabled region has a weight above 0; traffic must go somewhere", line: 0)
        }
        root.reportUnknownKeys()
        if !root.issues.isEmpty {
            throw ConfigError(issues: root.issues.sorted { ($0.line, $0.key) < ($1.line, $1.key) })
        }
        return config
    }

    static func readDaemon(_ r: inout TableReader, into d: inout DaemonSettings) {
        if let path = r.nonEmptyString("control_socket") {
            if !path.hasPrefix("/") {
                r.issue("control_socket", "must be an absolute path")
            } else if path.utf8.count > 103 {
                r.issue("control_socket", "path is \(path.utf8.count) bytes; Unix socket paths must be at most 103 bytes")
            } else {
                d.controlSocket = path
            }
        }
        if let group = r.nonEmptyString("socket_group") { d.socketGroup = group }
        if let mode = r.nonEmptyString("socket_mode") {
            if let value = Int(mode, radix: 8), (0...0o777).contains(value) {
                d.socketMode = value
            } else {
                r.issue("socket_mode", "'\(mode)' is not an octal mode such as \"0660\"")
            }
        }
        if let group = r.nonEmptyString("admin_group") { d.adminGroup = group }
        if let dir = r.nonEmptyString("state_directory") {
            if dir.hasPrefix("/") { d.stateDirectory = dir } else { r.issue("state_directory", "must be an absolute path") }
        }
        if let v = r.duration("client_idle_timeout", in: .milliseconds(100)...Duration.seconds(86_400)) { d.clientIdleTimeout = v }
        if let v = r.int("max_clients", in: 1...100_000) { d.maxClients = v }
        if let v = r.int("max_request_bytes", in: 1024...16_777_216) { d.maxRequestBytes = v }
    }

    static func readFailover(_ r: inout TableReader, into f: inout FailoverSettings) {
        if let text = r.string("strategy") {
            if let s = FailoverStrategy(rawValue: text) { f.strategy = s } else {
                r.issue("strategy", "'\(text)' is not one of automatic, gradual, cascading, manual")
            }
        }
        if let v = r.int("total", in: 1...1_000_000_000) { f.total = v }
        if let v = r.duration("cooldown", in: .zero...Duration.seconds(86_400)) { f.cooldown = v }
        if let v = r.duration("recovery_window", in: .zero...Duration.seconds(86_400)) { f.recoveryWindow = v }
        if let text = r.string("failback") {
            if let m = FailbackMode(rawValue: text) { f.failback = m } else {
                r.issue("failback", "'\(text)' is not one of automatic, manual")
            }
        }
        if let v = r.fraction("gradual_step", in: 0.01...1) { f.gradualStep = v }
        if let v = r.duration("gradual_interval", in: .milliseconds(100)...Duration.seconds(86_400)) { f.gradualInterval = v }
        if let v = r.bool("gradual_reverse") { f.gradualReverse = v }
        if let v = r.fraction("trigger_error_rate") { f.triggerErrorRate = v }
        if let v = r.fraction("trigger_capacity") { f.triggerCapacity = v }
        if let v = r.duration("trigger_latency", in: .milliseconds(1)...Duration.seconds(3600)) { f.triggerLatency = v }
        if let v = r.int("trigger_timeout_intervals", in: 1...1000) { f.triggerTimeoutIntervals = v }
        if let v = r.bool("refuse_unrecorded") { f.refuseUnrecorded = v }
        if let v = r.duration("history_max_age", in: .seconds(60)...Duration.seconds(10 * 365 * 86_400)) { f.historyMaxAge = v }
        if let v = r.int("history_max_events", in: 100...100_000_000) { f.historyMaxEvents = v }
    }

    static func readProbeDefaults(_ r: inout TableReader, into p: inout ProbeDefaults) {
        if let v = r.duration("interval", in: .milliseconds(50)...Duration.seconds(86_400)) { p.interval = v }
        if let v = r.duration("timeout", in: .milliseconds(10)...Duration.seconds(3600)) { p.timeout = v }
        if let v = r.fraction("jitter", in: 0...0.5) { p.jitter = v }
        if let v = r.int("max_body_bytes", in: 0...16_777_216) { p.maxBodyBytes = v }
        if p.timeout > p.interval {
            r.issue("timeout", "timeout \(formatDuration(p.timeout)) is longer than the interval \(formatDuration(p.interval)); a probe must end before the next one is due")
        }
    }

    static func readThresholds(_ r: inout TableReader, into t: inout StatusThresholds) {
        if let v = r.duration("window", in: .seconds(1)...Duration.seconds(86_400)) { t.window = v }
        if let v = r.duration("evaluation_interval", in: .milliseconds(50)...Duration.seconds(3600)) { t.evaluationInterval = v }
        if let v = r.int("min_samples", in: 1...100_000) { t.minSamples = v }
        if let v = r.int("rise", in: 1...1000) { t.rise = v }
        if let v = r.int("fall", in: 1...1000) { t.fall = v }
        if let v = r.fraction("degraded_error_rate") { t.degradedErrorRate = v }
        if let v = r.fraction("unhealthy_error_rate") { t.unhealthyErrorRate = v }
        if let v = r.fraction("degraded_capacity") { t.degradedCapacity = v }
        if let v = r.fraction("unhealthy_capacity") { t.unhealthyCapacity = v }
        if let v = r.duration("degraded_latency", in: .milliseconds(1)...Duration.seconds(3600)) { t.degradedLatency = v }
        if let text = r.string("latency_percentile") {
            if let p = LatencyPercentile(rawValue: text) {
                t.latencyPercentile = p
            } else {
                r.issue("latency_percentile", "'\(text)' is not one of p50, p95, p99")
            }
        }
        if t.unhealthyErrorRate < t.degradedErrorRate {
            r.issue("unhealthy_error_rate", "\(percent(t.unhealthyErrorRate)) is below degraded_error_rate \(percent(t.degradedErrorRate))")
        }
        if t.unhealthyCapacity > t.degradedCapacity {
            r.issue("unhealthy_capacity", "\(percent(t.unhealthyCapacity)) is above degraded_capacity \(percent(t.degradedCapacity))")
        }
    }

    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) }
            && s.unicodeScalars.allSatisfy(\.isASCII)
    }

    static func readRegion(_ r: inout TableReader, config: Config) -> RegionConfig? {
        let id = r.nonEmptyString("id")
        if !r.has("id") { r.issue("id", "every region needs an id, e.g. id = \"eu-west\"") }
        if let id, !self.isValidName(id) {
            r.issue("id", "'\(id)' may only use letters, digits, '-', '_' and '.' (64 at most)")
        }
        var priority = 1
        if let tier = r.string("tier") {
            switch tier {
            case "primary": priority = 1
            case "secondary": priority = 2
            case "tertiary": priority = 3
            default: r.issue("tier", "'\(tier)' is not one of primary, secondary, tertiary (or use priority = N)")
            }
            if r.has("priority") { r.issue("priority", "set either tier or priority, not both") }
        }
        if let p = r.int("priority", in: 1...1000) { priority = p }
        let weight = r.int("weight", in: 0...FailoverRegion.maximumWeight)
        if !r.has("weight") { r.issue("weight", "every region needs a baseline weight, e.g. weight = 5000") }
        let enabled = r.bool("enabled") ?? true
        let maxWeight = r.int("max_weight", in: 0...1_000_000_000)
        let haproxyServer = r.nonEmptyString("haproxy_server")

        var thresholds = config.status
        if var status = r.table("status") {
            self.readThresholds(&status, into: &thresholds)
            r.absorb(status)
        }

        var endpoints: [EndpointConfig] = []
        if let readers = r.tables("endpoint") {
            var names: Set<String> = []
            for var e in readers {
                if let endpoint = self.readEndpoint(&e, defaults: config.probe) {
                    if names.contains(endpoint.name) {
                        e.issue("name", "endpoint '\(endpoint.name)' is defined twice in this region")
                    } else {
                        names.insert(endpoint.name)
                        endpoints.append(endpoint)
                    }
                }
                r.absorb(e)
            }
        } else if !r.has("endpoint") {
            r.issue("endpoint", "region has no endpoints; add a [[region.endpoint]] section after it")
        }
        guard let id, let weight else { return nil }
        var region = RegionConfig(
            id: id, priority: priority, weight: weight, enabled: enabled, endpoints: endpoints, status: thresholds,
            line: r.table.line)
        region.maxWeight = maxWeight
        region.haproxyServer = haproxyServer
        return region
    }

    static func readEndpoint(_ r: inout TableReader, defaults: ProbeDefaults) -> EndpointConfig? {
        let kinds = ["url", "tcp", "exec"].filter { r.has($0) }
        let name = r.nonEmptyString("name")
        if let name, !self.isValidName(name) {
            r.issue("name", "'\(name)' may only use letters, digits, '-', '_' and '.' (64 at most)")
        }
        let interval = r.duration("interval", in: .milliseconds(50)...Duration.seconds(86_400)) ?? defaults.interval
        let timeout = r.duration("timeout", in: .milliseconds(10)...Duration.seconds(3600)) ?? defaults.timeout
        let jitter = r.fraction("jitter", in: 0...0.5) ?? defaults.jitter
        let maxBody = r.int("max_body_bytes", in: 0...16_777_216) ?? defaults.maxBodyBytes
        if timeout > interval {
            r.issue(
                r.has("timeout") ? "timeout" : "interval",
                "timeout \(formatDuration(timeout)) is longer than the interval \(formatDuration(interval)); a probe must end before the next one is due")
        }
        guard kinds.count == 1 else {
            for kind in kinds { r.markUsed(kind) }
            r.issue(kinds.last ?? "url", kinds.isEmpty ? "endpoint needs one of url, tcp or exec" : "set only one of url, tcp, exec")
            return nil
        }
        var check: ProbeCheck?
        switch kinds[0] {
        case "url": check = self.readHTTP(&r)
        case "tcp": check = self.readTCP(&r)
        default: check = self.readExec(&r)
        }
        guard let check else { return nil }
        let endpointName = name ?? Self.defaultName(for: check)
        return EndpointConfig(
            name: endpointName, check: check, interval: interval, timeout: timeout, jitter: jitter,
            maxBodyBytes: maxBody, line: r.table.line)
    }

    static func defaultName(for check: ProbeCheck) -> String {
        switch check {
        case .http(let h): URLComponents(string: h.url).flatMap { c in c.host.map { "\($0)\(c.port.map { ":\($0)" } ?? "")" } } ?? "http"
        case .tcp(let host, let port): "\(host):\(port)"
        case .exec(let e): (e.arguments.first.map { ($0 as NSString).lastPathComponent } ?? "exec")
        }
    }

    static func readHTTP(_ r: inout TableReader) -> ProbeCheck? {
        guard let url = r.nonEmptyString("url") else { return nil }
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["http", "https"].contains(scheme),
            let host = components.host, !host.isEmpty
        else {
            r.issue("url", "'\(url)' is not an http:// or https:// URL with a host")
            return nil
        }
        var check = HTTPCheck(url: url)
        if let method = r.nonEmptyString("method") {
            if ["GET", "HEAD", "POST", "OPTIONS"].contains(method) { check.method = method } else {
                r.issue("method", "'\(method)' is not one of GET, HEAD, POST, OPTIONS")
            }
        }
        if let codes = r.intArray("expect_status", in: 100...599) {
            if codes.isEmpty { r.issue("expect_status", "list at least one status code") } else { check.expectStatus = codes }
        }
        check.bodyContains = r.string("body_contains")
        check.capacityHeader = r.nonEmptyString("capacity_header")
        check.capacityJSONField = r.nonEmptyString("capacity_json")
        if let verify = r.bool("tls_verify") { check.tlsVerify = verify }
        if let ca = r.nonEmptyString("ca_file") {
            if !FileManager.default.isReadableFile(atPath: ca) { r.issue("ca_file", "cannot read '\(ca)'") }
            check.caFile = ca
        }
        if scheme == "http" {
            for key in ["tls_verify", "ca_file"] where r.has(key) { r.issue(key, "only applies to https:// endpoints") }
        }
        if let headers = r.table("headers") {
            var headers = headers
            for (key, entry) in headers.table.entries {
                if case .string(let v) = entry.value { check.headers[key] = v } else {
                    headers.issue(key, "header values must be quoted strings")
                }
                _ = headers.string(key)
            }
            r.absorb(headers)
        }
        return .http(check)
    }

    static func readTCP(_ r: inout TableReader) -> ProbeCheck? {
        guard let text = r.nonEmptyString("tcp") else { return nil }
        let stripped = text.hasPrefix("tcp://") ? String(text.dropFirst(6)) : text
        guard let colon = stripped.lastIndex(of: ":"), let port = Int(stripped[stripped.index(after: colon)...]),
            (1...65535).contains(port)
        else {
            r.issue("tcp", "'\(text)' is not host:port (e.g. \"db.eu-west.internal:5432\")")
            return nil
        }
        var host = String(stripped[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else {
            r.issue("tcp", "'\(text)' has no host")
            return nil
        }
        self.rejectHTTPKeys(&r, kind: "tcp")
        return .tcp(host: host, port: port)
    }

    static func readExec(_ r: inout TableReader) -> ProbeCheck? {
        guard let argv = r.stringArray("exec") else { return nil }
        guard let program = argv.first, !program.isEmpty else {
            r.issue("exec", "give the command as an array, e.g. exec = [\"/usr/local/bin/check-db\", \"--fast\"]")
            return nil
        }
        var check = ExecCheck(arguments: argv)
        if let capacity = r.bool("capacity_from_stdout") { check.capacityFromStdout = capacity }
        self.rejectHTTPKeys(&r, kind: "exec")
        return .exec(check)
    }

    static func rejectHTTPKeys(_ r: inout TableReader, kind: String) {
        for key in ["method", "expect_status", "body_contains", "capacity_header", "capacity_json", "tls_verify", "ca_file", "headers"]
        where r.has(key) {
            r.issue(key, "only applies to url endpoints, not \(kind)")
            r.markUsed(key)
        }
    }
}
