import FoundationEssentials

/// The typed value of each kind of event. The kind is the case; what it carries is the
/// associated ``EventDetail`` (none for kinds that say everything in their name).
public enum EventPayload: Sendable, Equatable {
    // regiond itself
    case daemonStarted(DaemonStart)
    case daemonStopping
    case configReloaded(ConfigApplied)
    case reloadFailed(ReloadRejected)
    case regionAdded
    case regionRemoved
    case regionUpdated
    case statusChanged(StatusMove)
    // decisions
    case failoverStarted(FailoverStart)
    case failoverStep(FailoverStepTaken)
    case failoverCompleted(FailoverEnd)
    case failoverBlocked(FailoverHeld)
    case failoverHalted(ShareChange)
    case recoveryStarted(RecoveryWindow)
    case recoveryRestarted(RecoveryWindow)
    case recoveryFailed(RecoveryFailure)
    case recoveryCompleted
    case failbackHeld(Because)
    case failbackStep(ShareChange)
    case failbackCompleted
    case operatorCommand(OperatorAction)
    case pinExpired(Because)
    case maintenanceStarted(MaintenanceNote)
    case maintenanceEnded(MaintenanceNote)
    case maintenanceSkipped(MaintenanceNote)
    case observerSuspect(ObserverSuspicion)
    case observerSuspectCleared(SuspicionCleared)
    case noHealthyTarget(Stranded)
    case panicCleared
    case capacityExhausted
    case planChanged
    // the shell
    case historyUnavailable(HistoryFailure)
    case actuatorFailed(PlanDelivery)
    case actuatorRecovered(PlanDelivery)
    case planApplied(PlanDelivery)
    case decisionsHeld(Overload)
    case decisionsResumed(OverloadEnded)
    case alertFailed(AlertUndelivered)
    // cluster mode
    case leadershipGained(Leadership)
    case leadershipLost(ObserverNote)
    case observerJoined(ObserverNote)
    case observerLeft(ObserverNote)
    case etcdUnreachable(EtcdOutage)
    case etcdReachable(ObserverNote)
    case fleetStatusChanged(FleetJudgement)

    public var kind: EventKind {
        switch self {
        case .daemonStarted: .daemonStarted
        case .daemonStopping: .daemonStopping
        case .configReloaded: .configReloaded
        case .reloadFailed: .reloadFailed
        case .regionAdded: .regionAdded
        case .regionRemoved: .regionRemoved
        case .regionUpdated: .regionUpdated
        case .statusChanged: .statusChanged
        case .failoverStarted: .failoverStarted
        case .failoverStep: .failoverStep
        case .failoverCompleted: .failoverCompleted
        case .failoverBlocked: .failoverBlocked
        case .failoverHalted: .failoverHalted
        case .recoveryStarted: .recoveryStarted
        case .recoveryRestarted: .recoveryRestarted
        case .recoveryFailed: .recoveryFailed
        case .recoveryCompleted: .recoveryCompleted
        case .failbackHeld: .failbackHeld
        case .failbackStep: .failbackStep
        case .failbackCompleted: .failbackCompleted
        case .operatorCommand: .operatorCommand
        case .pinExpired: .pinExpired
        case .maintenanceStarted: .maintenanceStarted
        case .maintenanceEnded: .maintenanceEnded
        case .maintenanceSkipped: .maintenanceSkipped
        case .observerSuspect: .observerSuspect
        case .observerSuspectCleared: .observerSuspectCleared
        case .noHealthyTarget: .noHealthyTarget
        case .panicCleared: .panicCleared
        case .capacityExhausted: .capacityExhausted
        case .planChanged: .planChanged
        case .historyUnavailable: .historyUnavailable
        case .actuatorFailed: .actuatorFailed
        case .actuatorRecovered: .actuatorRecovered
        case .planApplied: .planApplied
        case .decisionsHeld: .decisionsHeld
        case .decisionsResumed: .decisionsResumed
        case .alertFailed: .alertFailed
        case .leadershipGained: .leadershipGained
        case .leadershipLost: .leadershipLost
        case .observerJoined: .observerJoined
        case .observerLeft: .observerLeft
        case .etcdUnreachable: .etcdUnreachable
        case .etcdReachable: .etcdReachable
        case .fleetStatusChanged: .fleetStatusChanged
        }
    }

    /// What the event carries, if anything.
    public var detail: (any EventDetail)? {
        switch self {
        case .daemonStarted(let d): d
        case .configReloaded(let d): d
        case .reloadFailed(let d): d
        case .statusChanged(let d): d
        case .failoverStarted(let d): d
        case .failoverStep(let d): d
        case .failoverCompleted(let d): d
        case .failoverBlocked(let d): d
        case .failoverHalted(let d): d
        case .recoveryStarted(let d): d
        case .recoveryRestarted(let d): d
        case .recoveryFailed(let d): d
        case .failbackHeld(let d): d
        case .failbackStep(let d): d
        case .operatorCommand(let d): d
        case .pinExpired(let d): d
        case .maintenanceStarted(let d): d
        case .maintenanceEnded(let d): d
        case .maintenanceSkipped(let d): d
        case .observerSuspect(let d): d
        case .observerSuspectCleared(let d): d
        case .noHealthyTarget(let d): d
        case .historyUnavailable(let d): d
        case .actuatorFailed(let d): d
        case .actuatorRecovered(let d): d
        case .planApplied(let d): d
        case .decisionsHeld(let d): d
        case .decisionsResumed(let d): d
        case .alertFailed(let d): d
        case .leadershipGained(let d): d
        case .leadershipLost(let d): d
        case .observerJoined(let d): d
        case .observerLeft(let d): d
        case .etcdUnreachable(let d): d
        case .etcdReachable(let d): d
        case .fleetStatusChanged(let d): d
        case .daemonStopping, .regionAdded, .regionRemoved, .regionUpdated, .recoveryCompleted, .failbackCompleted, .panicCleared, .capacityExhausted,
            .planChanged:
            nil
        }
    }

    /// Reads the value of a `kind` from JSON (`data`); nil `data` only for kinds that carry nothing.
    public init(kind: EventKind, data: (any Decoder)?) throws {
        func read<D: EventDetail>(_ type: D.Type) throws -> D {
            guard let data else {
                throw DecodingError.valueNotFound(D.self, .init(codingPath: [], debugDescription: "a \(kind.rawValue) event without its data"))
            }
            return try D(from: data)
        }
        switch kind {
        case .daemonStarted: self = .daemonStarted(try read(DaemonStart.self))
        case .daemonStopping: self = .daemonStopping
        case .configReloaded: self = .configReloaded(try read(ConfigApplied.self))
        case .reloadFailed: self = .reloadFailed(try read(ReloadRejected.self))
        case .regionAdded: self = .regionAdded
        case .regionRemoved: self = .regionRemoved
        case .regionUpdated: self = .regionUpdated
        case .statusChanged: self = .statusChanged(try read(StatusMove.self))
        case .failoverStarted: self = .failoverStarted(try read(FailoverStart.self))
        case .failoverStep: self = .failoverStep(try read(FailoverStepTaken.self))
        case .failoverCompleted: self = .failoverCompleted(try read(FailoverEnd.self))
        case .failoverBlocked: self = .failoverBlocked(try read(FailoverHeld.self))
        case .failoverHalted: self = .failoverHalted(try read(ShareChange.self))
        case .recoveryStarted: self = .recoveryStarted(try read(RecoveryWindow.self))
        case .recoveryRestarted: self = .recoveryRestarted(try read(RecoveryWindow.self))
        case .recoveryFailed: self = .recoveryFailed(try read(RecoveryFailure.self))
        case .recoveryCompleted: self = .recoveryCompleted
        case .failbackHeld: self = .failbackHeld(try read(Because.self))
        case .failbackStep: self = .failbackStep(try read(ShareChange.self))
        case .failbackCompleted: self = .failbackCompleted
        case .operatorCommand: self = .operatorCommand(try read(OperatorAction.self))
        case .pinExpired: self = .pinExpired(try read(Because.self))
        case .maintenanceStarted: self = .maintenanceStarted(try read(MaintenanceNote.self))
        case .maintenanceEnded: self = .maintenanceEnded(try read(MaintenanceNote.self))
        case .maintenanceSkipped: self = .maintenanceSkipped(try read(MaintenanceNote.self))
        case .observerSuspect: self = .observerSuspect(try read(ObserverSuspicion.self))
        case .observerSuspectCleared: self = .observerSuspectCleared(try read(SuspicionCleared.self))
        case .noHealthyTarget: self = .noHealthyTarget(try read(Stranded.self))
        case .panicCleared: self = .panicCleared
        case .capacityExhausted: self = .capacityExhausted
        case .planChanged: self = .planChanged
        case .historyUnavailable: self = .historyUnavailable(try read(HistoryFailure.self))
        case .actuatorFailed: self = .actuatorFailed(try read(PlanDelivery.self))
        case .actuatorRecovered: self = .actuatorRecovered(try read(PlanDelivery.self))
        case .planApplied: self = .planApplied(try read(PlanDelivery.self))
        case .decisionsHeld: self = .decisionsHeld(try read(Overload.self))
        case .decisionsResumed: self = .decisionsResumed(try read(OverloadEnded.self))
        case .alertFailed: self = .alertFailed(try read(AlertUndelivered.self))
        case .leadershipGained: self = .leadershipGained(try read(Leadership.self))
        case .leadershipLost: self = .leadershipLost(try read(ObserverNote.self))
        case .observerJoined: self = .observerJoined(try read(ObserverNote.self))
        case .observerLeft: self = .observerLeft(try read(ObserverNote.self))
        case .etcdUnreachable: self = .etcdUnreachable(try read(EtcdOutage.self))
        case .etcdReachable: self = .etcdReachable(try read(ObserverNote.self))
        case .fleetStatusChanged: self = .fleetStatusChanged(try read(FleetJudgement.self))
        }
    }
}

extension EventPayload {
    /// A failover this event records, if it is one: the region's traffic started moving
    /// away, automatically or by an operator. The one definition behind `failovers_total`,
    /// `regionctl analytics` and time to detect.
    public var failover: (trigger: Trigger, strategy: FailoverStrategy?)? {
        switch self {
        case .failoverStarted(let move): (move.trigger, move.strategy)
        case .operatorCommand(let action): action.trigger.map { ($0, action.strategy) }
        case .maintenanceStarted(let note): note.trigger.map { ($0, note.strategy) }
        default: nil
        }
    }
}
