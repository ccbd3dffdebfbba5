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
}

/// Answers control requests: parses the line, checks permission, asks the supervisor.
public struct ControlService<C: Clock>: Sendable where C.Duration == Duration {
    let supervisor: Supervisor<C>
    /// Group whose members (with root and the daemon's own user) may change state.
    let adminGroupID: UInt32?

    public init(supervisor: Supervisor<C>, adminGroupID: UInt32?) {
        self.supervisor = supervisor
        self.adminGroupID = adminGroupID
    }

    public func respond(to line: String, peer: PeerCredentials) async -> ControlAction {
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
            return .reply(
                Self.encode(
                    ControlReply<NoResult>(
                        id: id, error: ControlError(.unsupportedVersion, "protocol version \(v) is not supported; this daemon speaks \(ControlProtocol.version)"))))
        }
        if ControlProtocol.mutatingCommands.contains(request.cmd), !self.isAdmin(peer) {
            return .reply(
                Self.encode(
                    ControlReply<NoResult>(
                        id: id,
                        error: ControlError(
                            .permissionDenied,
                            "'\(request.cmd)' changes state and needs root or membership of the admin group\(self.adminGroupID.map { " (gid \($0))" } ?? ""); uid \(peer.uid) is neither"))))
        }
        switch request.cmd {
        case "status":
            return .reply(Self.encode(ControlReply(id: id, result: await self.supervisor.statusReport())))
        case "regions":
            return .reply(Self.encode(ControlReply(id: id, result: RegionList(regions: await self.supervisor.briefs()))))
        case "region":
            guard let name = request.region, !name.isEmpty else {
                return .reply(Self.encode(ControlReply<NoResult>(id: id, error: ControlError(.badRequest, "'region' needs a \"region\" field with the region id"))))
            }
            guard let report = await self.supervisor.report(region: name) else {
                let known = await self.supervisor.config.regions.map(\.id).joined(separator: ", ")
                return .reply(Self.encode(ControlReply<NoResult>(id: id, error: ControlError(.notFound, "no region '\(name)'; known regions: \(known)"))))
            }
            return .reply(Self.encode(ControlReply(id: id, result: report)))
        case "version", "help":
            return .reply(
                Self.encode(
                    ControlReply(
                        id: id,
                        result: VersionReport(version: RegiondVersion.string, protocolVersion: ControlProtocol.version, commands: ControlProtocol.commands))))
        case "reload":
            switch await self.supervisor.reload() {
            case .success(let report): return .reply(Self.encode(ControlReply(id: id, result: report)))
            case .failure(let error): return .reply(Self.encode(ControlReply<NoResult>(id: id, error: error)))
            }
        case "watch":
            return .watch(Self.encode(ControlReply(id: id, result: WatchStarted())))
        default:
            let known = ControlProtocol.commands.joined(separator: ", ")
            return .reply(Self.encode(ControlReply<NoResult>(id: id, error: ControlError(.unknownCommand, "unknown command '\(request.cmd)'; known commands: \(known)"))))
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
