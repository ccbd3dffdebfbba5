import Foundation

@testable import RegionCore

/// Typed event values in a line each, for tables of events.
enum Payload {
    static func status(_ status: RegionStatus, was previous: RegionStatus = .healthy) -> EventPayload {
        .statusChanged(StatusMove(status: status, previousStatus: previous, reasons: [], errorRate: 0, samples: 10, capacity: nil, latencyP95Ms: nil))
    }

    static func failover(_ strategy: FailoverStrategy = .automatic, _ trigger: Trigger = .errorRate) -> EventPayload {
        .failoverStarted(FailoverStart(trigger: trigger, strategy: strategy, share: 0))
    }

    static func blocked(_ strategy: FailoverStrategy = .automatic, reason: String = "pinned") -> EventPayload {
        .failoverBlocked(FailoverHeld(trigger: .errorRate, reason: reason, status: .unhealthy, strategy: strategy))
    }

    static func applied(_ actuator: String) -> EventPayload {
        .planApplied(PlanDelivery(actuator: actuator, generation: 1, plan: ""))
    }

    /// An operator's command; `moves` when it took the region's traffic away.
    static func command(_ name: String, moves: Bool) -> EventPayload {
        var action = OperatorAction(command: name, uid: 0, reason: "test")
        if moves { action.trigger = .manual }
        return .operatorCommand(action)
    }
}

extension Event {
    init(at time: Date, _ payload: EventPayload, region: String? = "eu") {
        self.init(time: time, region: region, message: payload.kind.rawValue, payload)
    }
}
