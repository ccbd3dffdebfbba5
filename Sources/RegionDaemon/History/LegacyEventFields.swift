import Foundation
import RegionCore

/// Reads an event recorded by regiond before events were typed (the v1 history schema
/// kept a `[String: String]` of fields per row) into its typed value. Used once, by the
/// migration to schema v2 (``StateStore``): after it, nothing reads fields back.
///
/// What a v1 row does not say is filled with a neutral value (a missing share is 0, a
/// missing trigger `unhealthy`), so an old history stays readable and countable.
enum LegacyEventFields {
    static func payload(kind: EventKind, fields f: [String: String], time: Date) -> (EventPayload, DecisionStamp?) {
        func text(_ key: String) -> String { f[key] ?? "" }
        func number(_ key: String) -> Double { f[key].flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil } ?? 0 }
        func trigger() -> Trigger { f["trigger"].flatMap(Trigger.init(rawValue:)) ?? .unhealthy }
        func strategy() -> FailoverStrategy? { f["strategy"].flatMap(FailoverStrategy.init(rawValue:)) }
        func status(_ key: String) -> RegionStatus? { f[key].flatMap(RegionStatus.init(rawValue:)) }
        func date(_ key: String) -> Date { f[key].flatMap { try? Date($0, strategy: .iso8601) } ?? time }
        func list(_ key: String) -> [String] { text(key).split(separator: ",").map(String.init) }
        func weights(_ key: String) -> [RegionWeight]? {
            guard let value = f[key] else { return nil }
            let pairs = value.split(separator: " ").compactMap { part -> RegionWeight? in
                let pair = part.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, let weight = Int(pair[1]) else { return nil }
                return RegionWeight(region: String(pair[0]), weight: weight)
            }
            return pairs.isEmpty ? nil : pairs
        }
        let payload: EventPayload
        switch kind {
        case .daemonStarted: payload = .daemonStarted(DaemonStart(config: text("config"), regions: Int(text("regions")) ?? 0))
        case .daemonStopping: payload = .daemonStopping
        case .configReloaded:
            payload = .configReloaded(ConfigApplied(generation: Int(text("generation")) ?? 0, added: list("added"), removed: list("removed"), updated: list("updated")))
        case .reloadFailed: payload = .reloadFailed(ReloadRejected(reason: text("reason"), config: text("config")))
        case .regionAdded: payload = .regionAdded
        case .regionRemoved: payload = .regionRemoved
        case .regionUpdated: payload = .regionUpdated
        case .statusChanged:
            payload = .statusChanged(
                StatusMove(
                    status: status("status") ?? .unknown, previousStatus: status("previous_status") ?? .unknown,
                    reasons: f["reason"].map { $0.isEmpty ? [] : $0.components(separatedBy: "; ") } ?? [], errorRate: number("error_rate"),
                    samples: Int(text("samples")) ?? 0, capacity: f["capacity"].map { _ in number("capacity") },
                    latencyP95Ms: f["latency_p95_ms"].map { _ in number("latency_p95_ms") }))
        case .failoverStarted: payload = .failoverStarted(FailoverStart(trigger: trigger(), strategy: strategy() ?? .automatic, share: number("share")))
        case .failoverStep: payload = .failoverStep(FailoverStepTaken(trigger: trigger(), share: number("share")))
        case .failoverCompleted: payload = .failoverCompleted(FailoverEnd(trigger: trigger(), drained: f["drained"].flatMap(DrainEnd.init(rawValue:))))
        case .failoverBlocked:
            payload = .failoverBlocked(
                FailoverHeld(trigger: trigger(), reason: text("reason"), status: status("status") ?? .unhealthy, strategy: strategy() ?? .automatic))
        case .failoverHalted: payload = .failoverHalted(ShareChange(share: number("share")))
        case .recoveryStarted: payload = .recoveryStarted(RecoveryWindow(until: date("until"), share: number("share")))
        case .recoveryRestarted: payload = .recoveryRestarted(RecoveryWindow(until: date("until"), share: number("share")))
        case .recoveryFailed: payload = .recoveryFailed(RecoveryFailure(trigger: trigger()))
        case .recoveryCompleted: payload = .recoveryCompleted
        case .failbackHeld: payload = .failbackHeld(Because(reason: text("reason")))
        case .failbackStep: payload = .failbackStep(ShareChange(share: number("share")))
        case .failbackCompleted: payload = .failbackCompleted
        case .operatorCommand:
            var action = OperatorAction(command: text("command"), uid: UInt32(text("uid")) ?? 0, reason: text("reason"))
            action.trigger = f["trigger"].flatMap(Trigger.init(rawValue:))
            action.strategy = strategy()
            action.target = f["target"]
            action.weights = weights("weights")
            action.from = f["from"].map { _ in date("from") }
            action.until = f["until"].map { _ in date("until") }
            action.residencyOverride = f["residency_override"]
            payload = .operatorCommand(action)
        case .pinExpired: payload = .pinExpired(Because(reason: text("reason")))
        case .maintenanceStarted, .maintenanceEnded, .maintenanceSkipped:
            // Newer than the text-only rows; read the same way for completeness.
            let window = Maintenance(
                action: Maintenance.Action(rawValue: text("action")) ?? .drain, start: time, end: f["until"].map { _ in date("until") }, reason: text("reason"),
                by: UInt32(text("uid")) ?? 0, begun: kind != .maintenanceSkipped)
            var note = MaintenanceNote(window, why: f["why"])
            note.trigger = f["trigger"].flatMap(Trigger.init(rawValue:))
            note.strategy = strategy()
            payload = kind == .maintenanceStarted ? .maintenanceStarted(note) : kind == .maintenanceEnded ? .maintenanceEnded(note) : .maintenanceSkipped(note)
        case .observerSuspect:
            payload = .observerSuspect(ObserverSuspicion(regions: list("regions"), enabled: Int(text("enabled")) ?? 0, windowSeconds: number("window_seconds")))
        case .observerSuspectCleared:
            payload = .observerSuspectCleared(
                SuspicionCleared(reason: SuspicionEnd(rawValue: text("reason")) ?? .fewerFail, uid: f["uid"].flatMap(UInt32.init), heldSeconds: number("held_seconds")))
        case .noHealthyTarget: payload = .noHealthyTarget(Stranded(regions: list("regions")))
        case .panicCleared: payload = .panicCleared
        case .capacityExhausted: payload = .capacityExhausted
        case .planChanged: payload = .planChanged
        case .historyUnavailable:
            payload = .historyUnavailable(HistoryFailure(error: text("error"), refused: list("refused").compactMap(EventKind.init(rawValue:))))
        case .actuatorFailed, .actuatorRecovered, .planApplied:
            let delivery = PlanDelivery(
                actuator: text("actuator"), generation: Int(text("generation")) ?? 0, plan: text("plan"), error: f["error"],
                delayMs: f["delay_ms"].map { _ in number("delay_ms") }, reason: f["reason"])
            payload = kind == .actuatorFailed ? .actuatorFailed(delivery) : kind == .actuatorRecovered ? .actuatorRecovered(delivery) : .planApplied(delivery)
        case .decisionsHeld:
            payload = .decisionsHeld(
                Overload(
                    reason: text("reason"), latenessP99Ms: f["lateness_p99_ms"].flatMap(Double.init), loopLagMs: f["loop_lag_ms"].flatMap(Double.init)))
        case .decisionsResumed: payload = .decisionsResumed(OverloadEnded(heldSeconds: number("held_seconds")))
        case .alertFailed:
            payload = .alertFailed(
                AlertUndelivered(
                    alert: text("alert"), alertKind: f["alert_kind"].flatMap(EventKind.init(rawValue:)) ?? .alertFailed,
                    alertEventID: UInt64(text("alert_event_id")) ?? 0, attempts: Int(text("attempts")) ?? 0, error: text("error")))
        case .leadershipGained:
            payload = .leadershipGained(Leadership(observer: text("observer"), revision: Int64(text("revision")) ?? 0, prefix: text("prefix")))
        case .leadershipLost: payload = .leadershipLost(ObserverNote(observer: text("observer"), reason: f["reason"]))
        case .observerJoined: payload = .observerJoined(ObserverNote(observer: text("observer")))
        case .observerLeft: payload = .observerLeft(ObserverNote(observer: text("observer")))
        case .etcdUnreachable: payload = .etcdUnreachable(EtcdOutage(observer: text("observer"), error: text("error")))
        case .etcdReachable: payload = .etcdReachable(ObserverNote(observer: text("observer")))
        case .fleetStatusChanged:
            payload = .fleetStatusChanged(
                FleetJudgement(
                    status: status("status") ?? .unknown, previousStatus: status("previous_status"), observers: list("observers"), failing: list("failing"),
                    required: Int(text("required")) ?? 0))
        }
        // What v1 put on every event of a decision: the plan, and in cluster mode the commit.
        let isDelivery = [EventKind.planApplied, .actuatorFailed, .actuatorRecovered, .leadershipGained].contains(kind)
        let plan = isDelivery ? nil : weights("plan")
        let revision = isDelivery ? nil : f["revision"].flatMap { Int64($0) }
        let stamp = plan == nil && revision == nil ? nil : DecisionStamp(plan: plan, revision: revision, leader: f["leader"])
        return (payload, stamp)
    }
}
