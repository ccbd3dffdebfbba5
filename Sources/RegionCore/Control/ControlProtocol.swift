import FoundationEssentials

/// The control protocol: newline-delimited JSON over a Unix stream socket.
/// See `docs/control-protocol.md`.
public enum ControlProtocol {
    /// The protocol version this build speaks.
    public static let version = 1
    public static let defaultSocketPath = "/run/regiond/control.sock"

    /// All commands this build understands (see ``ControlCommand``).
    public static var commands: [String] { ControlCommand.names }

    /// The encoder used for every line on the socket (sorted keys, ISO 8601 times with milliseconds).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time: \(text)")
        }
        return decoder
    }
}

/// One request line: `{"v":1,"id":"7","cmd":"region","region":"eu-west"}`.
public struct ControlRequest: Sendable, Codable, Equatable {
    /// Protocol version; absent means 1.
    public var v: Int?
    /// Echoed back in the reply, to match replies with requests.
    public var id: String?
    public var cmd: String
    /// For `region`, `failover` (the region to move away from), `drain`, `enable`, `disable`, `history`.
    public var region: String?
    /// For `failover`: the region to send the traffic to (default: chosen by the strategy).
    public var to: String?
    /// For `failover`: automatic, gradual, cascading, graceful (default: the region's strategy).
    public var strategy: String?
    /// For `failover` with `to`: send the traffic there even outside the region's allowed
    /// targets. Needs a `reason`, which is recorded with the move.
    public var overrideResidency: Bool?
    /// Why: recorded on the event. Required for `pin`.
    public var reason: String?
    /// For `set-weights`: region id to baseline weight.
    public var weights: [String: Int]?
    /// For `pin`: how long, as a duration ("30m"); absent: until `unpin`. For `drain` and
    /// `disable`: how long until the region is enabled again; absent: until `enable`.
    public var ttl: String?
    /// For `history`: an ISO 8601 time or a duration ago ("1h").
    public var since: String?
    /// For `history`: at most this many events (default 100, at most 10000).
    public var limit: Int?
    /// For `regions`: only regions with this status (or a comma-separated list of them).
    public var status: String?
    /// For `simulate`: the scripted steps, e.g. ["eu fails", "us degrades at +60s"].
    public var steps: [String]?
    /// For `simulate`: when steps without their own `at` happen (default +0s). For `drain`
    /// and `disable`: when the window begins, an ISO 8601 time (absent: now).
    public var at: String?
    /// For `simulate`: stop after this long (default: when nothing is left to happen).
    public var until: String?

    enum CodingKeys: String, CodingKey {
        case v, id, cmd, region, to, strategy, reason, weights, ttl, since, limit, status, steps, at, until
        case overrideResidency = "override_residency"
    }

    public init(cmd: String, region: String? = nil, id: String? = nil) {
        self.v = ControlProtocol.version
        self.cmd = cmd
        self.region = region
        self.id = id
    }
}

/// An error reply's body. `code` is stable and meant for scripts; `message` for people.
public struct ControlError: Error, Sendable, Codable, Equatable {
    public var code: Code
    public var message: String

    public enum Code: String, Sendable, Codable {
        /// The line was not a JSON object of the request shape.
        case badRequest = "bad_request"
        case unknownCommand = "unknown_command"
        case unsupportedVersion = "unsupported_version"
        /// The named region does not exist.
        case notFound = "not_found"
        /// The command changes state and the client is neither root nor in the admin group.
        case permissionDenied = "permission_denied"
        /// The request line was longer than `max_request_bytes`.
        case tooLarge = "too_large"
        /// Too many clients are connected.
        case busy
        /// The new configuration was rejected; the old one keeps running.
        case reloadFailed = "reload_failed"
        /// The move would send a region's traffic outside its allowed targets (`failover_to`,
        /// `failover_within`); `override_residency` with a reason does it anyway.
        case residency
        /// Asked too often (`probe`); try again later.
        case rateLimited = "rate_limited"
        /// Cluster mode: this instance follows; the message names the leader to send it to.
        case notLeader = "not_leader"
        /// Cluster mode: the decision could not be committed (etcd does not answer, or this
        /// instance stopped leading meanwhile); nothing changed. Try again.
        case unavailable
        case `internal`
    }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// The envelope of every reply line.
public struct ControlReply<Result: Codable & Sendable>: Sendable, Codable {
    public var v: Int
    public var id: String?
    public var ok: Bool
    public var result: Result?
    public var error: ControlError?

    public init(id: String?, result: Result) {
        self.v = ControlProtocol.version
        self.id = id
        self.ok = true
        self.result = result
    }

    public init(id: String?, error: ControlError) {
        self.v = ControlProtocol.version
        self.id = id
        self.ok = false
        self.error = error
    }
}

/// Stands in for "no result" in replies that carry only an error.
public struct NoResult: Sendable, Codable, Equatable {
    public init() {}
}

/// A streamed line of `watch`: `{"event":{...}}`.
public struct WatchLine: Sendable, Codable, Equatable {
    public var event: Event

    public init(event: Event) {
        self.event = event
    }
}
