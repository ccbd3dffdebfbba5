import Foundation
import RegionCore

/// Decides whether an HTTP response passes its check, and reads its capacity and lag.
///
/// Separate from the networking so the rules can be tested with plain values.
public enum HTTPVerdict {
    public static func judge(
        check: HTTPCheck,
        status: Int,
        header: (String) -> String?,
        body: [UInt8],
        truncated: Bool,
        maxBody: Int
    ) -> ProbeOutcome {
        guard check.expectStatus.contains(status) else {
            let expected = check.expectStatus.map(String.init).joined(separator: ", ")
            return .fail(.status, "status \(status), expected \(expected)")
        }
        if let needle = check.bodyContains {
            let text = String(decoding: body, as: UTF8.self)
            guard text.contains(needle) else {
                let scope = truncated ? "first \(maxBody) bytes of the body" : "body"
                return .fail(.body, "\(scope) does not contain \"\(needle)\"")
            }
        }
        var capacity: Double?
        if let name = check.capacityHeader {
            guard let value = header(name) else { return .fail(.body, "no \(name) header for capacity") }
            guard let parsed = parseCapacity(value) else { return .fail(.body, "\(name) header '\(value)' is not a capacity") }
            capacity = parsed
        }
        if let field = check.capacityJSONField {
            guard !truncated else { return .fail(.body, "body is larger than \(maxBody) bytes; cannot read \(field)") }
            switch Self.jsonCapacity(body, field: field) {
            case .success(let value): capacity = value
            case .failure(let message): return .fail(.body, message.text)
            }
        }
        // A lag that cannot be read does not fail the probe (the service answered), but the
        // lag is unknown, and a region with `max_lag` takes no moved traffic while it is.
        var lag: Double?
        var detail = "status \(status)"
        if let name = check.lagHeader {
            if let value = header(name), let parsed = parseLag(value) {
                lag = parsed
            } else {
                detail += "; lag unknown: \(header(name).map { "\(name) header '\(clip($0, bytes: 40))' is not seconds" } ?? "no \(name) header")"
            }
        }
        if let field = check.lagJSONField {
            switch truncated ? .failure(Message(text: "body is larger than \(maxBody) bytes")) : Self.jsonLag(body, field: field) {
            case .success(let value): lag = value
            case .failure(let message): detail += "; lag unknown: \(message.text)"
            }
        }
        return .pass(detail, capacity: capacity, lag: lag)
    }

    struct Message: Error {
        var text: String
    }

    /// The value at a dotted path of a JSON body.
    static func jsonField(_ body: [UInt8], field: String) -> Result<JSONValue?, Message> {
        guard let root = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else {
            return .failure(Message(text: "body is not JSON; cannot read \(field)"))
        }
        var current: JSONValue? = root
        for part in field.split(separator: ".") {
            if case .object(let members) = current { current = members[String(part)] } else { current = nil }
        }
        return .success(current)
    }

    static func jsonLag(_ body: [UInt8], field: String) -> Result<Double, Message> {
        let value: JSONValue?
        switch self.jsonField(body, field: field) {
        case .success(let found): value = found
        case .failure(let message): return .failure(message)
        }
        switch value {
        case .number(let number): if let lag = parseLag("\(number)") { return .success(lag) }
        case .string(let text): if let lag = parseLag(text) { return .success(lag) }
        default: return .failure(Message(text: "JSON field \(field) is missing or not a number"))
        }
        return .failure(Message(text: "JSON field \(field) is not a lag in seconds"))
    }

    static func jsonCapacity(_ body: [UInt8], field: String) -> Result<Double, Message> {
        let current: JSONValue?
        switch self.jsonField(body, field: field) {
        case .success(let found): current = found
        case .failure(let message): return .failure(message)
        }
        switch current {
        case .number(let value):
            return .success(min(max(value, 0), 1))
        case .string(let text):
            if let value = parseCapacity(text) { return .success(value) }
            return .failure(Message(text: "JSON field \(field) '\(text)' is not a capacity"))
        default:
            return .failure(Message(text: "JSON field \(field) is missing or not a number"))
        }
    }
}

/// Just enough JSON to walk a dotted path.
enum JSONValue: Decodable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case object([String: JSONValue])
    case array([JSONValue])
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            self = .array(try container.decode([JSONValue].self))
        }
    }
}
