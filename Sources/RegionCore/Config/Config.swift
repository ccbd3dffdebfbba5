import FoundationEssentials

/// The whole, validated configuration of a regiond instance.
///
/// A `Config` only exists once ``ConfigLoader`` has checked every key, so the
/// rest of the daemon never sees a half-valid configuration.
public struct Config: Sendable, Equatable {
    public var daemon: DaemonSettings
    public var probe: ProbeDefaults
    public var status: StatusThresholds
    public var failover: FailoverSettings
    /// The HAProxy load balancers committed plans are applied to besides `traffic.json`.
    public var haproxy: [HAProxySettings] = []
    /// A command run after every plan change; nil when not configured.
    public var hook: PlanHook?
    /// `[metrics]`: the Prometheus listener.
    public var metrics = MetricsSettings()
    /// `[[alert]]`: commands run for the events an operator must hear about.
    public var alerts: [AlertRule] = []
    /// `[cluster]`: agree with other instances through etcd; nil: run alone.
    public var cluster: ClusterSettings?
    public var regions: [RegionConfig]

    public init(daemon: DaemonSettings = .init(), probe: ProbeDefaults = .init(), status: StatusThresholds = .init(), failover: FailoverSettings = .init(), regions: [RegionConfig]) {
        self.daemon = daemon
        self.probe = probe
        self.status = status
        self.failover = failover
        self.regions = regions
    }

    /// Where committed plans go besides `traffic.json`.
    public var planTargets: PlanTargets {
        PlanTargets(haproxy: self.haproxy, servers: self.haproxyServers, hook: self.hook)
    }

    /// Each region with the HAProxy server that carries its traffic.
    public var haproxyServers: [HAProxyServer] {
        self.regions.map { HAProxyServer(region: $0.id, server: $0.haproxyServer ?? $0.id) }
    }

    /// The regions as the failover engine sees them.
    public var failoverRegions: [FailoverRegion] {
        self.regions.map {
            FailoverRegion(
                id: $0.id, priority: $0.priority, weight: $0.weight, maxWeight: $0.maxWeight ?? self.failover.total, enabled: $0.enabled,
                strategy: $0.failover.strategy, cooldown: $0.failover.cooldown, allowedTargets: self.allowedTargets(of: $0),
                maxLag: $0.failover.maxLag?.seconds, failbackRamp: $0.failover.failbackRamp)
        }
    }

    /// The regions `region`'s traffic may go to (`failover_to`, and the regions sharing its
    /// `failover_within` label); nil: any region.
    public func allowedTargets(of region: RegionConfig) -> [String]? {
        let within = region.failover.failoverWithin ?? self.failover.failoverWithin
        var allowed: [String]? = region.failover.failoverTo
        if let key = within {
            let value = region.failover.labels[key]
            let same = self.regions.filter { $0.id != region.id && value != nil && $0.failover.labels[key] == value }.map(\.id)
            allowed = allowed.map { $0.filter(same.contains) } ?? same
        }
        return allowed
    }

    public func region(_ id: String) -> RegionConfig? {
        self.regions.first(where: { $0.id == id })
    }
}

/// `[metrics]`: where `GET /metrics` is served.
public struct MetricsSettings: Sendable, Equatable {
    public static let defaultListen = HostPort(host: "127.0.0.1", port: 9465)
    /// nil: no listener (`listen = ""`).
    public var listen: HostPort? = Self.defaultListen

    public init(listen: HostPort? = Self.defaultListen) {
        self.listen = listen
    }
}

/// Settings of the daemon process itself (`[daemon]`).
public struct DaemonSettings: Sendable, Equatable {
    /// Path of the control socket.
    public var controlSocket: String = "/run/regiond/control.sock"
    /// Group that owns the control socket; `nil` keeps the daemon's group.
    public var socketGroup: String? = nil
    /// Permission bits of the control socket.
    public var socketMode: Int = 0o660
    /// Members of this group (and root) may send commands that change state.
    public var adminGroup: String? = nil
    /// Directory for the state database.
    public var stateDirectory: String = "/var/lib/regiond"
    /// A control client that sends nothing for this long is disconnected.
    public var clientIdleTimeout: Duration = .seconds(30)
    /// At most this many control clients at once; more are refused with an error.
    public var maxClients: Int = 512
    /// Longest accepted request line, in bytes.
    public var maxRequestBytes: Int = 65_536

    public init() {}
}

/// Probe settings that endpoints inherit unless they set their own (`[probe]`).
public struct ProbeDefaults: Sendable, Equatable {
    public var interval: Duration = .seconds(2)
    /// Longer than the interval is allowed: the next probe starts at the first interval
    /// slot after this one ends. 5 s lets the 5 s latency trigger see a slow region.
    public var timeout: Duration = .seconds(5)
    /// Fraction of the interval by which a probe's start is spread (0 to 0.5).
    public var jitter: Double = 0.1
    /// Largest response body an HTTP probe reads; the rest is discarded.
    public var maxBodyBytes: Int = 65_536

    public init() {}
}

/// One region (`[[region]]`).
public struct RegionConfig: Sendable, Equatable, Identifiable {
    public var id: String
    /// Failover order: lower comes first. `tier = "primary"` is 1, secondary 2, tertiary 3.
    public var priority: Int
    /// Baseline share of traffic, in plan units (basis points by default).
    public var weight: Int
    /// A disabled region is still probed but never receives traffic.
    public var enabled: Bool
    /// The most traffic the region can take at full capacity (cascading); nil: the plan total.
    public var maxWeight: Int? = nil
    /// The HAProxy server carrying this region's traffic (`haproxy_server`; default: the id).
    public var haproxyServer: String? = nil
    public var endpoints: [EndpointConfig]
    /// `require`: how many endpoints that are not critical must pass (default: pooled).
    public var require: EndpointRequirement.Require = .pooled
    /// Per-region threshold overrides already merged over the global ones.
    public var status: StatusThresholds
    /// This region's own failover policy (`[region.failover]`, residency, `max_lag`), with
    /// triggers merged over `[failover]`'s.
    public var failover = RegionFailoverPolicy()
    /// Line of the `[[region]]` header, for messages.
    public var line: Int

    public init(id: String, priority: Int = 1, weight: Int, enabled: Bool = true, endpoints: [EndpointConfig], status: StatusThresholds = .init(), line: Int = 0) {
        self.id = id
        self.priority = priority
        self.weight = weight
        self.enabled = enabled
        self.endpoints = endpoints
        self.status = status
        self.line = line
    }

    /// How its endpoints combine into its health.
    public var endpointRequirement: EndpointRequirement {
        EndpointRequirement(require: self.require, critical: Set(self.endpoints.filter(\.critical).map(\.name)), endpoints: self.endpoints.map(\.name))
    }

    /// Equality that ignores where in the file the region was written, so a
    /// reload that only moves lines around touches nothing.
    public func sameSettings(as other: RegionConfig) -> Bool {
        var a = self
        var b = other
        a.line = 0
        b.line = 0
        a.endpoints = a.endpoints.map { var e = $0; e.line = 0; return e }
        b.endpoints = b.endpoints.map { var e = $0; e.line = 0; return e }
        return a == b
    }
}

/// What a region sets for itself about failover.
public struct RegionFailoverPolicy: Sendable, Equatable {
    /// nil: `[failover]`'s.
    public var strategy: FailoverStrategy?
    public var cooldown: Duration?
    /// `[failover]`'s triggers with the region's own over them.
    public var triggers = FailoverTriggers()
    /// The regions its traffic may go to; nil: any (unless `failover_within`).
    public var failoverTo: [String]?
    /// Free-form labels (`labels = { jurisdiction = "eu" }`).
    public var labels: [String: String] = [:]
    /// Its traffic stays within regions that share this label's value.
    public var failoverWithin: String?
    /// It takes moved traffic, and gets its own back, only while its replication lag is below this.
    public var maxLag: Duration?
    /// Its own failback ramp; nil: `[failover]`'s.
    public var failbackRamp: FailbackRamp?

    public init(triggers: FailoverTriggers = FailoverTriggers()) {
        self.triggers = triggers
    }
}

/// One endpoint of a region (`[[region.endpoint]]`).
public struct EndpointConfig: Sendable, Equatable, Identifiable {
    public var name: String
    public var check: ProbeCheck
    public var interval: Duration
    public var timeout: Duration
    public var jitter: Double
    public var maxBodyBytes: Int
    /// Its failure alone makes the region unhealthy (`critical = true`).
    public var critical = false
    public var line: Int

    public var id: String { self.name }

    public init(name: String, check: ProbeCheck, interval: Duration = .seconds(2), timeout: Duration = .seconds(5), jitter: Double = 0, maxBodyBytes: Int = 65_536, line: Int = 0) {
        self.name = name
        self.check = check
        self.interval = interval
        self.timeout = timeout
        self.jitter = jitter
        self.maxBodyBytes = maxBodyBytes
        self.line = line
    }

    /// Same settings apart from the line it was written on.
    public func sameSettings(as other: EndpointConfig) -> Bool {
        var a = self
        var b = other
        a.line = 0
        b.line = 0
        return a == b
    }
}

/// What a probe does.
public enum ProbeCheck: Sendable, Equatable {
    case http(HTTPCheck)
    case tcp(host: String, port: Int)
    case exec(ExecCheck)

    /// Whether the endpoint reports a replication lag (`lag_header`, `lag_json`, `lag_from_stdout`).
    public var reportsLag: Bool {
        switch self {
        case .http(let check): check.lagHeader != nil || check.lagJSONField != nil
        case .tcp: false
        case .exec(let check): check.lagFromStdout
        }
    }

    /// `http`, `https`, `tcp` or `exec`.
    public var kind: String {
        switch self {
        case .http(let check): check.url.hasPrefix("https") ? "https" : "http"
        case .tcp: "tcp"
        case .exec: "exec"
        }
    }

    /// A one-line description of the target, for tables and logs.
    public var target: String {
        switch self {
        case .http(let check): check.url
        case .tcp(let host, let port): "tcp://\(host):\(port)"
        case .exec(let check): check.arguments.joined(separator: " ")
        }
    }
}

/// An HTTP(S) probe.
public struct HTTPCheck: Sendable, Equatable {
    public var url: String
    public var method: String = "GET"
    /// Status codes that count as a pass.
    public var expectStatus: [Int] = [200]
    /// When set, the (bounded) body must contain this text.
    public var bodyContains: String? = nil
    /// Read capacity (0...1, or a percentage like `75%`) from this response header.
    public var capacityHeader: String? = nil
    /// Read capacity from this field of a JSON body (dotted path, e.g. `load.capacity`).
    public var capacityJSONField: String? = nil
    /// Read the replication lag (seconds) from this response header.
    public var lagHeader: String? = nil
    /// Read the replication lag (seconds) from this field of a JSON body (dotted path).
    public var lagJSONField: String? = nil
    /// Verify the server's TLS certificate (on by default).
    public var tlsVerify: Bool = true
    /// Extra CA bundle (PEM) to trust for this endpoint.
    public var caFile: String? = nil
    /// Extra request headers.
    public var headers: [String: String] = [:]

    public init(url: String) {
        self.url = url
    }
}

/// A command probe: exit status 0 is a pass.
public struct ExecCheck: Sendable, Equatable {
    /// Program and its arguments; the program is looked up on `PATH` unless it has a slash.
    public var arguments: [String]
    /// Read capacity from the first line of standard output.
    public var capacityFromStdout: Bool = false
    /// Read the replication lag (seconds) from the second line of standard output.
    public var lagFromStdout: Bool = false

    public init(arguments: [String]) {
        self.arguments = arguments
    }
}
