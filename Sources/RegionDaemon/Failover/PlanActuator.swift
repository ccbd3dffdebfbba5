import Foundation
import Logging
import NIOPosix
import RegionCore

/// Applies a committed plan to the world. Idempotent: after a restart the stored
/// plan is applied again.
///
/// Today it writes `traffic.json` in the state directory (atomically: a temporary
/// file renamed over the old one), for load balancers, DNS updaters or scripts to
/// read. Writing happens on NIO's thread pool, never on the cooperative pool.
public actor PlanActuator {
    let path: String
    let bus: EventBus
    let logger: Logger
    public private(set) var applied: TrafficPlan?

    public init(stateDirectory: String, bus: EventBus, logger: Logger) {
        self.path = (stateDirectory as NSString).appendingPathComponent("traffic.json")
        self.bus = bus
        self.logger = logger
    }

    struct Document: Codable {
        var total: Int
        var weights: [Entry]
        var updated: Date

        struct Entry: Codable {
            var region: String
            var weight: Int
        }
    }

    public func apply(_ plan: TrafficPlan, order: [String]) async {
        let document = Document(total: plan.total, weights: order.map { .init(region: $0, weight: plan.weight($0)) }, updated: Date())
        let path = self.path
        do {
            let encoder = ControlProtocol.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            let data = try encoder.encode(document)
            try await NIOThreadPool.singleton.runIfActive {
                let temporary = path + ".tmp"
                try data.write(to: URL(fileURLWithPath: temporary))
                guard rename(temporary, path) == 0 else {
                    throw StateStore.Error(description: "rename \(temporary): \(String(cString: strerror(errno)))")
                }
            }
            self.applied = plan
        } catch {
            self.logger.error("cannot write \(path): \(error)")
            await self.bus.publish(
                Event(time: Date(), kind: .actuatorFailed, message: "cannot apply the plan to \(path): \(error)", fields: ["actuator": "state_file", "error": "\(error)"]))
        }
    }
}
