import Foundation
import RegionCore

/// The live status page on the metrics listener: `GET /` is one static document (HTML,
/// CSS and JS embedded in the binary: no build step, no CDN, works with the network
/// cut), `GET /api/status` what it draws, and `GET /events` the event stream it follows
/// (server-sent events, the same events as `watch`). Read-only by design: nothing on it
/// changes state, and the listener binds to loopback by default.
public struct StatusPage<C: Clock>: Sendable where C.Duration == Duration {
    let supervisor: Supervisor<C>
    let controller: FailoverController<C>?
    let bus: EventBus

    public init(supervisor: Supervisor<C>, controller: FailoverController<C>?, bus: EventBus) {
        self.supervisor = supervisor
        self.controller = controller
        self.bus = bus
    }

    /// What `/api/status` returns: the `status` and `traffic` replies, and the last events.
    struct Snapshot: Encodable {
        var status: StatusReport
        var traffic: TrafficReport?
        var events: [Event]
    }

    func snapshot() async -> [UInt8] {
        let snapshot = Snapshot(
            status: await self.supervisor.statusReport(), traffic: self.controller?.trafficReport(),
            events: Array(await self.bus.recent.suffix(40).reversed()))
        return (try? Array(ControlProtocol.encoder().encode(snapshot))) ?? Array("{}".utf8)
    }

    /// One server-sent event: its id, and the event as the `data` line (JSON has no newlines).
    static func frame(_ event: Event) -> [UInt8] {
        let json = (try? ControlProtocol.encoder().encode(event)) ?? Data("{}".utf8)
        return Array("id: \(event.id)\ndata: ".utf8) + Array(json) + Array("\n\n".utf8)
    }

    /// Sent when no event came for a while, so a client that vanished is noticed.
    static var heartbeat: [UInt8] { Array(": keepalive\n\n".utf8) }

    static var html: [UInt8] { Array(StatusPageDocument.text.utf8) }
}
