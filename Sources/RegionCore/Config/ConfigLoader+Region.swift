import FoundationEssentials

/// `[[region]]` and its endpoints.
extension ConfigLoader {
    /// - Parameter explicitTriggers: the trigger keys `[failover]` sets (checked again
    ///   against this region's own thresholds).
    static func readRegion(_ r: inout TableReader, config: Config, explicitTriggers: Set<String>) -> RegionConfig? {
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
        let ownStatus = r.has("status")
        if var status = r.table("status") {
            self.readThresholds(&status, into: &thresholds)
            r.absorb(status)
        }
        var policy = RegionFailoverPolicy(triggers: config.failover.triggers)
        if var failover = r.table("failover") {
            self.readRegionFailover(&failover, into: &policy)
            let own = Set(self.triggerKeys.filter { failover.has($0) })
            // Its own triggers against its thresholds; `[failover]`'s only if it has its own thresholds.
            self.checkTriggers(&failover, policy.triggers, against: thresholds, explicit: own.union(ownStatus ? explicitTriggers : []), scope: "this region's ")
            r.absorb(failover)
        } else if ownStatus {
            self.checkTriggers(&r, policy.triggers, against: thresholds, explicit: explicitTriggers, scope: "this region's ")
        }
        self.readResidency(&r, into: &policy)

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
        region.require = self.readRequire(&r, endpoints: endpoints)
        region.failover = policy
        if policy.maxLag != nil, !endpoints.contains(where: \.check.reportsLag) {
            r.issue("max_lag", "no endpoint of this region reports a lag; add lag_header or lag_json (url) or lag_from_stdout (exec)")
        }
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
        let critical = r.bool("critical") ?? false
        guard let check else { return nil }
        let endpointName = name ?? Self.defaultName(for: check)
        var endpoint = EndpointConfig(
            name: endpointName, check: check, interval: interval, timeout: timeout, jitter: jitter,
            maxBodyBytes: maxBody, line: r.table.line)
        endpoint.critical = critical
        return endpoint
    }

    /// `require = "all" | "any" | N`: how many of the endpoints that are not critical must pass.
    static func readRequire(_ r: inout TableReader, endpoints: [EndpointConfig]) -> EndpointRequirement.Require {
        guard let value = r.value("require") else { return .pooled }
        let counted = endpoints.filter { !$0.critical }.count
        let require: EndpointRequirement.Require
        switch value {
        case .string("all"): require = .all
        case .string("any"): require = .any
        case .integer(let n): require = .atLeast(Int(clamping: n))
        case .string(let text) where Int(text) != nil: require = .atLeast(Int(text)!)
        default:
            r.issue("require", "expected \"all\", \"any\" or a number of endpoints such as 2")
            return .pooled
        }
        if counted == 0 {
            r.issue("require", "every endpoint of this region is critical, so there is nothing for require to count; remove require or critical from one endpoint")
            return .pooled
        }
        if case .atLeast(let n) = require, !(1...counted).contains(n) {
            r.issue("require", "\(n) is out of range: this region has \(counted) endpoint\(counted == 1 ? "" : "s") that \(counted == 1 ? "is" : "are") not critical; use 1 to \(counted), \"any\" or \"all\"")
            return .pooled
        }
        return require
    }

    static func defaultName(for check: ProbeCheck) -> String {
        switch check {
        case .http(let h): URLComponents(string: h.url).flatMap { c in c.host.map { "\($0)\(c.port.map { ":\($0)" } ?? "")" } } ?? "http"
        case .tcp(let host, let port): "\(host):\(port)"
        case .exec(let e): (e.arguments.first.map { lastPathComponent($0) } ?? "exec")
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
        check.lagHeader = r.nonEmptyString("lag_header")
        check.lagJSONField = r.nonEmptyString("lag_json")
        if check.lagHeader != nil, check.lagJSONField != nil { r.issue("lag_json", "set lag_header or lag_json, not both") }
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
        guard let address = HostPort.parse(stripped) else {
            r.issue("tcp", "'\(text)' is not host:port (e.g. \"db.eu-west.internal:5432\")")
            return nil
        }
        self.rejectHTTPKeys(&r, kind: "tcp")
        return .tcp(host: address.host, port: address.port)
    }

    static func readExec(_ r: inout TableReader) -> ProbeCheck? {
        guard let argv = r.stringArray("exec") else { return nil }
        guard let program = argv.first, !program.isEmpty else {
            r.issue("exec", "give the command as an array, e.g. exec = [\"/usr/local/bin/check-db\", \"--fast\"]")
            return nil
        }
        var check = ExecCheck(arguments: argv)
        if let capacity = r.bool("capacity_from_stdout") { check.capacityFromStdout = capacity }
        if let lag = r.bool("lag_from_stdout") { check.lagFromStdout = lag }
        self.rejectHTTPKeys(&r, kind: "exec")
        return .exec(check)
    }

    static func rejectHTTPKeys(_ r: inout TableReader, kind: String) {
        for key in ["method", "expect_status", "body_contains", "capacity_header", "capacity_json", "lag_header", "lag_json", "tls_verify", "ca_file", "headers"]
        where r.has(key) {
            r.issue(key, "only applies to url endpoints, not \(kind)")
            r.markUsed(key)
        }
    }
}
