import Foundation
import RegionCore

/// Decides whether an HTTP response passes its check, and reads its capacity.
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
        return .pass("status \(status)", capacity: capacity)
    }

    struct Message: Error {
        var text: String
    }

    static func jsonCapacity(_ body: [UInt8], field: String) -> Result<Double, Message> {
        guard let root = try? JSONDecoder().decode(JSONValue.self, from: Data(body)) else {
            return .failure(Message(text: "body is not JSON; cannot read \(field)"))
        }
        var current: JSONValue? = root
        for part in field.split(separator: ".") {
            if case .object(let members) = current { current = members[String(part)] } else { current = nil }
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
