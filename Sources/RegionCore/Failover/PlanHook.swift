/// `[hook]`: a command run after every committed change of the plan (and at start),
/// for whatever regiond does not drive itself: a DNS API, a cloud load balancer, a
/// pager. It gets the plan in its environment (`REGIOND_PLAN`, `REGIOND_PLAN_TOTAL`,
/// `REGIOND_TRAFFIC_FILE`); exit 0 means applied.
public struct PlanHook: Sendable, Equatable {
    /// Program and arguments, as for an exec probe.
    public var command: [String]
    /// The command is killed (with its process group) after this long.
    public var timeout: Duration

    public init(command: [String], timeout: Duration = .seconds(10)) {
        self.command = command
        self.timeout = timeout
    }

    /// The environment a hook run gets for `plan`, regions in config order.
    public static func environment(for plan: TrafficPlan, order: [String], trafficFile: String) -> [String: String] {
        [
            "REGIOND_PLAN": plan.description(order: order),
            "REGIOND_PLAN_TOTAL": String(plan.total),
            "REGIOND_TRAFFIC_FILE": trafficFile,
        ]
    }
}

/// Where committed plans go besides `traffic.json`: HAProxy runtime APIs and a hook.
public struct PlanTargets: Sendable, Equatable {
    public var haproxy: [HAProxySettings]
    /// Each region's HAProxy server (from `haproxy_server`, default the region id).
    public var servers: [HAProxyServer]
    public var hook: PlanHook?

    public init(haproxy: [HAProxySettings] = [], servers: [HAProxyServer] = [], hook: PlanHook? = nil) {
        self.haproxy = haproxy
        self.servers = servers
        self.hook = hook
    }

    /// The names of every target, in the order they are listed: `state_file`, each HAProxy, `hook`.
    public var names: [String] {
        ["state_file"] + self.haproxy.map(\.target) + (self.hook == nil ? [] : ["hook"])
    }
}
