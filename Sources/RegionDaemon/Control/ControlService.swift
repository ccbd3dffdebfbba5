import Foundation
import RegionCore

/// Who is on the other end of a control connection (from `SO_PEERCRED`).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// What the connection should do after a request.
public enum ControlAction: Sendable {
    /// Write this line and keep reading requests.
    case reply(String)
    /// Write this line, then stream events until the client leaves.
    case watch(String)

    /// The error code of an error reply. Replies are encoded with sorted keys, so an error
    /// reply always starts with `{"error":{"code":"`.
    var errorCode: String? {
        guard case .reply(let line) = self else { return nil }
        let prefix = #"{"error":{"code":""#
        guard line.hasPrefix(prefix) else { return nil }
        let rest = line.dropFirst(prefix.count)
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}

/// Answers control requests: parses the line, checks permission, asks the supervisor.
public struct ControlService<C: Clock>: Sendable where C.Duration == Duration {
    let supervisor: Supervisor<C>
    let controller: FailoverController<C>?
    let store: StateStore?
    /// Group whose members (with root and the daemon's own user) may change state.
    let adminGroupID: UInt32?
    let metrics: DaemonMetrics?
    /// Cluster mode: sends a command this follower may not decide to the leader through
    /// etcd; the revision of the decision, or why not (``ClusterMember/forward(_:uid:)``).
    let forward: (@Sendable (ControlRequest, UInt32) async -> Result<Int64, ControlError>)?

    public init(
        supervisor: Supervisor<C>, controller: FailoverController<C>? = nil, store: StateStore? = nil, adminGroupID: UInt32?, metrics: DaemonMetrics? = nil,
        forward: (@Sendable (ControlRequest, UInt32) async -> Result<Int64, ControlError>)? = nil
    ) {
        self.forward = forward
        self.metrics = metrics
        self.supervisor = supervisor
        self.controller = controller
        self.store = store
        self.adminGroupID = adminGroupID
    }

    public func respond(to line: String, peer: PeerCredentials) async -> ControlAction {
        let action = await self.answer(line, peer: peer)
        if let metrics = self.metrics {
            metrics.request(command: Self.commandLabel(line), code: action.errorCode ?? "ok")
        }
        return action
    }

    /// The command of a request line as a metric label: a known command, `unknown` or `invalid`
    /// (never the client's own text, so the label set stays bounded).
    static func commandLabel(_ line: String) -> String {
        guard let request = try? ControlProtocol.decoder().decode(ControlRequest.self, from: Data(line.utf8)) else { return "invalid" }
        return ControlCommand(rawValue: request.cmd)?.rawValue ?? "unknown"
    }

    func answer(_ line: String, peer: PeerCredentials) async -> ControlAction {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty {
            return .reply(Self.encode(ControlReply<NoResult>(id: nil, error: ControlError(.badRequest, "empty request; send a JSON object such as {\"cmd\":\"status\"}"))))
        }
        let request: ControlRequest
        do {
            request = try ControlProtocol.decoder().decode(ControlRequest.self, from: Data(trimmed.utf8))
        } catch {
            return .reply(Self.encode(ControlReply<NoResult>(id: nil, error: ControlError(.badRequest, Self.describe(error)))))
        }
        let id = request.id
        if let v = request.v, v != ControlProtocol.version {
            return Self.failure(id, ControlError(.unsupportedVersion, "protocol version \(v) is not supported; this daemon speaks \(ControlProtocol.version)"))
        }
        guard let command = ControlCommand(rawValue: request.cmd) else {
            let known = ControlProtocol.commands.joined(separator: ", ")
            return Self.failure(id, ControlError(.unknownCommand, "unknown command '\(clip(request.cmd, bytes: 64))'; known commands: \(known)"))
        }
        if command.mutatesState, !self.isAdmin(peer) {
            return Self.failure(
                id,
                ControlError(
                    .permissionDenied,
                    "'\(command.rawValue)' changes state and needs root or membership of the admin group\(self.adminGroupID.map { " (gid \($0))" } ?? ""); uid \(peer.uid) is neither"))
        }
        switch command {
        case .status:
            return .reply(Self.encode(ControlReply(id: id, result: await self.supervisor.statusReport())))
        case .regions:
            return await self.regions(request)
        case .probe:
            return await self.probe(request)
        case .best:
            guard let controller = self.controller else { return Self.failure(id, ControlError(.internal, "failover is not running")) }
            return .reply(Self.encode(ControlReply(id: id, result: controller.best())))
        case .simulate:
            return await self.simulate(request)
        case .region:
            guard let name = request.region, !name.isEmpty else {
                return Self.failure(id, ControlError(.badRequest, "'region' needs a \"region\" field with the region id"))
            }
            guard let report = await self.supervisor.report(region: name) else {
                let known = await self.supervisor.config.regions.map(\.id).joined(separator: ", ")
                return Self.failure(id, ControlError(.notFound, "no region '\(clip(name, bytes: 64))'; known regions: \(known)"))
            }
            return .reply(Self.encode(ControlReply(id: id, result: report)))
        case .version, .help:
            return .reply(
                Self.encode(
                    ControlReply(
                        id: id,
                        result: VersionReport(version: RegiondVersion.string, protocolVersion: ControlProtocol.version, commands: ControlProtocol.commands))))
        case .reload:
            switch await self.supervisor.reload() {
            case .success(let report): return .reply(Self.encode(ControlReply(id: id, result: report)))
            case .failure(let error): return Self.failure(id, error)
            }
        case .watch:
            return .watch(Self.encode(ControlReply(id: id, result: WatchStarted())))
        case .traffic:
            guard let controller = self.controller else { return Self.failure(id, ControlError(.internal, "failover is not running")) }
            return .reply(Self.encode(ControlReply(id: id, result: await self.supervisor.withLocalView(controller.trafficReport()))))
        case .history:
            return await self.history(request)
        case .analytics:
            return await self.analytics(request)
        case .failover, .drain, .enable, .disable, .setWeights, .pin, .unpin, .confirm:
            return await self.operate(request, command: command, peer: peer)
        }
    }

    static func failure(_ id: String?, _ error: ControlError) -> ControlAction {
        .reply(Self.encode(ControlReply<NoResult>(id: id, error: error)))
    }

    /// Turns a state-changing request into an ``OperatorCommand`` and has the controller commit it.
    func operate(_ request: ControlRequest, command: ControlCommand, peer: PeerCredentials) async -> ControlAction {
        let id = request.id
        guard let controller = self.controller else { return Self.failure(id, ControlError(.internal, "failover is not running")) }
        let operation: OperatorCommand
        switch request.operatorCommand(command) {
        case .success(let parsed): operation = parsed
        case .failure(let error): return Self.failure(id, error)
        }
        let reason = request.reason.flatMap { $0.isEmpty ? nil : $0 } ?? "no reason given"
        switch await controller.command(operation, uid: peer.uid, reason: reason) {
        case .success(let report): return .reply(Self.encode(ControlReply(id: id, result: report)))
        case .failure(let error) where error.code == .notLeader && self.forward != nil:
            // A follower: the leader decides; the caller's permission was checked here.
            switch await self.forward!(request, peer.uid) {
            case .success(let revision):
                // Reply once this instance has the decision too, so the report shows it.
                _ = await controller.recorded(revision: revision, within: .seconds(5))
                return .reply(Self.encode(ControlReply(id: id, result: controller.trafficReport())))
            case .failure(let error):
                return Self.failure(id, error)
            }
        case .failure(let error): return Self.failure(id, error)
        }
    }

    func history(_ request: ControlRequest) async -> ControlAction {
        guard let store = self.store else { return Self.failure(request.id, ControlError(.internal, "the state database is not open; see the journal")) }
        let since: Date?
        switch request.sinceDate(now: Date()) {
        case .success(let date): since = date
        case .failure(let error): return Self.failure(request.id, error)
        }
        let limit = min(max(request.limit ?? 100, 1), 10_000)
        do {
            let events = try await store.history(region: request.region, since: since, kinds: nil, limit: limit)
            return .reply(Self.encode(ControlReply(id: request.id, result: HistoryReport(events: events))))
        } catch {
            return Self.failure(request.id, ControlError(.internal, "cannot read the history: \(error)"))
        }
    }

    func isAdmin(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == geteuid() { return true }
        guard let admin = self.adminGroupID else { return false }
        if peer.gid == admin { return true }
        return Self.supplementaryGroups(pid: peer.pid).contains(admin)
    }

    /// The peer's supplementary groups, from `/proc/PID/status` (`Groups:` line).
    static func supplementaryGroups(pid: Int32) -> [UInt32] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("Groups:") {
            return line.dropFirst(7).split(separator: " ").compactMap { UInt32($0.trimmingCharacters(in: .whitespaces)) }
        }
        return []
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
            // A well-formed line whose field cannot be read, e.g. a number that does not fit.
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "field \"\(path)\" cannot be read: \(clip(context.debugDescription, bytes: 120))"
        case DecodingError.dataCorrupted:
            return "request is not valid JSON; send one JSON object per line, e.g. {\"cmd\":\"status\"}"
        case DecodingError.keyNotFound(let key, _):
            return "request has no \"\(key.stringValue)\" field"
        case DecodingError.typeMismatch(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "request must be a JSON object" : "field \"\(path)\" has the wrong type"
        default:
            return "request could not be read: \(error)"
        }
    }

    /// One JSON line (without the newline).
    static func encode<T: Encodable>(_ value: T) -> String {
        do {
            return String(decoding: try ControlProtocol.encoder().encode(value), as: UTF8.self)
        } catch {
            return #"{"error":{"code":"internal","message":"could not encode the reply"},"ok":false,"v":1}"#
        }
    }

    static func encodeEvent(_ event: Event) -> String {
        self.encode(WatchLine(event: event))
    }
}
