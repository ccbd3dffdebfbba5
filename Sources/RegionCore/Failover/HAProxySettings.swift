/// `[[haproxy]]` (or one `[haproxy]`): apply every committed plan to an HAProxy backend
/// through its runtime API. Several sections: several load balancers, each a target of
/// its own.
public struct HAProxySettings: Sendable, Equatable {
    /// Names this load balancer in `regionctl traffic`, `STATUS=` and events; empty for a
    /// single unnamed section (the target is then just `haproxy`).
    public var name: String
    /// The runtime API socket (`stats socket ... level admin` in haproxy.cfg).
    public var socket: String
    /// The backend whose servers are the regions.
    public var backend: String
    /// How long one exchange with HAProxy may take.
    public var timeout: Duration
    /// How often the committed plan is sent again regardless.
    public var reapplyInterval: Duration
    /// How often `show info` is asked, to notice a new HAProxy process (a restart or a
    /// reload) and give it the plan at once; zero turns the watch off.
    public var watchInterval: Duration
    /// After every apply, HAProxy's `show servers state` is written here (atomically), so
    /// that a reloaded or restarted HAProxy with `server-state-file` and
    /// `load-server-state-from-file` starts with the committed weights.
    public var stateFile: String?
    public var zeroShare: ZeroShare
    /// Region to server for this load balancer, over the regions' own `haproxy_server`.
    public var servers: [String: String]

    public init(
        name: String = "", socket: String, backend: String, timeout: Duration = .seconds(2), reapplyInterval: Duration = .seconds(30),
        watchInterval: Duration = .milliseconds(500), stateFile: String? = nil, zeroShare: ZeroShare = .weight, servers: [String: String] = [:]
    ) {
        self.name = name
        self.socket = socket
        self.backend = backend
        self.timeout = timeout
        self.reapplyInterval = reapplyInterval
        self.watchInterval = watchInterval
        self.stateFile = stateFile
        self.zeroShare = zeroShare
        self.servers = servers
    }

    /// The target's name: `haproxy`, or `haproxy:NAME`.
    public var target: String { self.name.isEmpty ? "haproxy" : "haproxy:\(self.name)" }

    /// Each region's server on this load balancer.
    public func servers(for regions: [HAProxyServer]) -> [HAProxyServer] {
        regions.map { HAProxyServer(region: $0.region, server: self.servers[$0.region] ?? $0.server) }
    }
}
