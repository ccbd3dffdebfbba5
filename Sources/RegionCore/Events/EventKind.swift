import FoundationEssentials

/// The kinds of event. Each has a stable journal `MESSAGE_ID` (see `systemd/regiond.catalog`).
public enum EventKind: String, Sendable, Codable, CaseIterable {
    case daemonStarted = "daemon_started"
    case daemonStopping = "daemon_stopping"
    case statusChanged = "status_changed"
    case configReloaded = "config_reloaded"
    case reloadFailed = "reload_failed"
    case regionAdded = "region_added"
    case regionRemoved = "region_removed"
    case regionUpdated = "region_updated"
    case failoverStarted = "failover_started"
    case failoverStep = "failover_step"
    case failoverCompleted = "failover_completed"
    case failoverBlocked = "failover_blocked"
    case failoverHalted = "failover_halted"
    case recoveryStarted = "recovery_started"
    case recoveryRestarted = "recovery_restarted"
    case recoveryFailed = "recovery_failed"
    case recoveryCompleted = "recovery_completed"
    case failbackHeld = "failback_held"
    case failbackStep = "failback_step"
    case failbackCompleted = "failback_completed"
    case operatorCommand = "operator_command"
    case pinExpired = "pin_expired"
    /// A scheduled drain or disable began (`regionctl drain --at`).
    case maintenanceStarted = "maintenance_started"
    /// A drain or disable with `--for` reached its end; the region is enabled again.
    case maintenanceEnded = "maintenance_ended"
    /// A scheduled drain or disable could not begin (no region could take the traffic, or its window passed while regiond was stopped).
    case maintenanceSkipped = "maintenance_skipped"
    /// A lone regiond holds automatic decisions: too many regions began failing at once, so it suspects its own network.
    case observerSuspect = "observer_suspect"
    /// It decides again: fewer regions fail, or an operator confirmed (`regionctl confirm`).
    case observerSuspectCleared = "observer_suspect_cleared"
    case noHealthyTarget = "no_healthy_target"
    case panicCleared = "panic_cleared"
    case capacityExhausted = "capacity_exhausted"
    case planChanged = "plan_changed"
    case historyUnavailable = "history_unavailable"
    case actuatorFailed = "actuator_failed"
    case actuatorRecovered = "actuator_recovered"
    /// regiond is starved (probes late, event loops behind): statuses frozen, no automatic decision.
    case decisionsHeld = "decisions_held"
    /// Its schedule has been healthy again long enough; decisions resume.
    case decisionsResumed = "decisions_resumed"
    /// A committed plan reached one of its targets (state file, an HAProxy, the hook).
    case planApplied = "plan_applied"
    /// An `[[alert]]` command failed every attempt for an event.
    case alertFailed = "alert_failed"
    /// Cluster mode: this instance won the etcd election and decides for the fleet.
    case leadershipGained = "leadership_gained"
    /// Cluster mode: it stopped deciding (a renewal failed, a fenced write was refused, or it stops).
    case leadershipLost = "leadership_lost"
    /// Cluster mode: an observer's heartbeat appeared in etcd.
    case observerJoined = "observer_joined"
    /// Cluster mode: an observer's heartbeat went stale or its lease expired.
    case observerLeft = "observer_left"
    /// Cluster mode: etcd does not answer; the last committed plan is kept, no decision is made.
    case etcdUnreachable = "etcd_unreachable"
    case etcdReachable = "etcd_reachable"
    /// Cluster mode: the fleet's judgement of a region changed (status, or who sees it failing).
    case fleetStatusChanged = "fleet_status_changed"

    /// 128-bit id for `journalctl MESSAGE_ID=...`.
    public var messageID: String {
        switch self {
        case .daemonStarted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a21"
        case .daemonStopping: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a22"
        case .statusChanged: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a23"
        case .configReloaded: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a24"
        case .reloadFailed: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a25"
        case .regionAdded: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a26"
        case .regionRemoved: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a27"
        case .regionUpdated: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1a28"
        case .failoverStarted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b00"
        case .failoverStep: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b01"
        case .failoverCompleted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b02"
        case .failoverBlocked: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b03"
        case .failoverHalted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b04"
        case .recoveryStarted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b05"
        case .recoveryRestarted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b06"
        case .recoveryFailed: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b07"
        case .recoveryCompleted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b08"
        case .failbackHeld: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b09"
        case .failbackStep: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b0a"
        case .failbackCompleted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b0b"
        case .operatorCommand: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b0c"
        case .pinExpired: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b0d"
        case .noHealthyTarget: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b0e"
        case .panicCleared: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b0f"
        case .capacityExhausted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b10"
        case .planChanged: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b11"
        case .historyUnavailable: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b12"
        case .actuatorFailed: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b13"
        case .actuatorRecovered: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b14"
        case .decisionsHeld: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b15"
        case .decisionsResumed: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b16"
        case .planApplied: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b17"
        case .alertFailed: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b18"
        case .leadershipGained: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b19"
        case .leadershipLost: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b1a"
        case .observerJoined: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b1b"
        case .observerLeft: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b1c"
        case .etcdUnreachable: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b1d"
        case .etcdReachable: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b1e"
        case .fleetStatusChanged: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b1f"
        case .maintenanceStarted: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b20"
        case .maintenanceEnded: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b21"
        case .maintenanceSkipped: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b22"
        case .observerSuspect: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b23"
        case .observerSuspectCleared: "8d3f0c7e5b1a4f2e9c6d7a8b9e0f1b24"
        }
    }

    /// syslog priority: 3 err, 4 warning, 5 notice, 6 info.
    public var priority: Int {
        switch self {
        case .reloadFailed: 3
        case .statusChanged: 5
        case .noHealthyTarget, .historyUnavailable, .observerSuspect: 2
        case .capacityExhausted, .actuatorFailed, .alertFailed, .etcdUnreachable: 3
        case .leadershipLost, .observerLeft: 4
        case .leadershipGained, .observerJoined, .etcdReachable, .fleetStatusChanged: 5
        case .failoverStarted, .failoverCompleted, .failoverBlocked, .failoverHalted, .recoveryFailed, .decisionsHeld, .maintenanceSkipped: 4
        case .failoverStep, .recoveryStarted, .recoveryRestarted, .recoveryCompleted, .failbackHeld, .failbackStep, .failbackCompleted, .operatorCommand, .pinExpired, .maintenanceStarted, .maintenanceEnded, .observerSuspectCleared, .panicCleared, .planChanged, .actuatorRecovered, .decisionsResumed: 5

        case .daemonStarted, .daemonStopping, .configReloaded, .regionAdded, .regionRemoved, .regionUpdated, .planApplied: 6
        }
    }
}
