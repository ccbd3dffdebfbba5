import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Reads and validates a regiond configuration file.
///
/// Every problem is collected with its file, line and full key; a config with
/// any problem is rejected whole, so the daemon never runs half-configured.
public enum ConfigLoader {
    /// Reads `path` and validates it.
    public static func load(path: String) throws(ConfigError) -> Config {
        let text: String
        switch self.readFile(path) {
        case .success(let read): text = read
        case .failure(let reason):
            throw ConfigError(issues: [ConfigIssue(file: path, line: 0, key: "", message: "cannot read the file: \(reason.message)")])
        }
        return try self.parse(text, file: path)
    }

    /// Why a config file could not be read, as the system says it ("No such file or directory").
    public struct ReadFailure: Error, Sendable { public let message: String }

    /// The largest config file read; 10,000 regions take about 2 MB.
    public static let maxFileBytes = 64 << 20

    /// The file's text: its bytes through read(2), so a failure says what errno says.
    static func readFile(_ path: String) -> Result<String, ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadFailure(message: String(cString: strerror(errno)))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(message: String(cString: strerror(errno))))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > Self.maxFileBytes { return .failure(ReadFailure(message: "larger than \(Self.maxFileBytes >> 20) MB")) }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(ReadFailure(message: "not valid UTF-8")) }
        return .success(text)
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
        var explicitTriggers: Set<String> = []
        if var failover = root.table("failover") {
            self.readFailover(&failover, into: &config.failover)
            explicitTriggers = Set(self.triggerKeys.filter { failover.has($0) })
            self.checkTriggers(&failover, config.failover.triggers, against: config.status, explicit: explicitTriggers, scope: "")
            root.absorb(failover)
        }
        config.failover.suspectWindow = config.status.window
        config.haproxy = self.readHAProxies(&root)
        config.alerts = self.readAlerts(&root)
        if var hook = root.table("hook") {
            config.hook = self.readHook(&hook)
            root.absorb(hook)
        }
        if var cluster = root.table("cluster") {
            config.cluster = self.readCluster(&cluster)
            root.absorb(cluster)
        }
        if var metrics = root.table("metrics") {
            if let text = metrics.string("listen") {
                if text.isEmpty {
                    config.metrics.listen = nil
                } else if let address = HostPort.parse(text) {
                    config.metrics.listen = address
                } else {
                    metrics.issue("listen", "'\(clip(text, bytes: 80))' is not host:port (e.g. \"127.0.0.1:9465\"); \"\" turns the listener off")
                }
            }
            root.absorb(metrics)
        }
        if let regions = root.tables("region") {
            var seen: [String: Int] = [:]
            var servers: [String: String] = [:]
            for var reader in regions {
                if let region = self.readRegion(&reader, config: config, explicitTriggers: explicitTriggers) {
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
        self.checkResidency(&root, config.regions)
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

    static func readProbeDefaults(_ r: inout TableReader, into p: inout ProbeDefaults) {
        if let v = r.duration("interval", in: .milliseconds(50)...Duration.seconds(86_400)) { p.interval = v }
        if let v = r.duration("timeout", in: .milliseconds(10)...Duration.seconds(3600)) { p.timeout = v }
        if let v = r.fraction("jitter", in: 0...0.5) { p.jitter = v }
        if let v = r.int("max_body_bytes", in: 0...16_777_216) { p.maxBodyBytes = v }
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
        !s.isEmpty && s.count <= 64 && s.unicodeScalars.allSatisfy { (("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)) || "-_.".unicodeScalars.contains($0) }
            && s.unicodeScalars.allSatisfy(\.isASCII)
    }
}
