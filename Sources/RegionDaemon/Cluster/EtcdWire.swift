import Foundation

/// The JSON of etcd's v3 gRPC gateway (proto3 JSON: 64-bit integers as strings,
/// bytes as base64, fields at their default value left out). Only what regiond uses.
enum EtcdWire {
    /// A 64-bit integer the gateway writes as a string; numbers are accepted too.
    struct Int64Text: Codable, Sendable, Equatable {
        var value: Int64

        init(_ value: Int64) { self.value = value }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int64.self) {
                self.value = number
            } else if let parsed = Int64(try container.decode(String.self)) {
                self.value = parsed
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a 64-bit integer")
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(String(self.value))
        }
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
    static func base64(_ bytes: Data) -> String { bytes.base64EncodedString() }

    /// The key just after every key starting with `prefix` (etcd's `range_end` for a prefix).
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return Data(bytes).base64EncodedString()
            }
            bytes.removeLast()
        }
        return Data([0]).base64EncodedString()
    }

    struct Header: Decodable, Sendable {
        var revision: Int64Text?
    }

    struct KeyValue: Decodable, Sendable {
        var key: String?
        var value: String?
        var create_revision: Int64Text?
        var mod_revision: Int64Text?
        var lease: Int64Text?
    }

    struct LeaseGrant: Encodable { var TTL: Int64Text }
    struct LeaseGrantResponse: Decodable { var ID: Int64Text?; var TTL: Int64Text?; var error: String? }
    struct LeaseID: Encodable { var ID: Int64Text }
    struct KeepAliveResponse: Decodable {
        struct Result: Decodable { var ID: Int64Text?; var TTL: Int64Text? }
        var result: Result?
    }

    struct Put: Encodable { var key: String; var value: String; var lease: Int64Text? }
    struct PutResponse: Decodable { var header: Header? }
    struct Range: Encodable { var key: String; var range_end: String? }
    struct RangeResponse: Decodable { var header: Header?; var kvs: [KeyValue]? }

    struct Compare: Encodable {
        var target: String
        var key: String
        var create_revision: Int64Text?
        var mod_revision: Int64Text?
        var result: String

        /// The key's creation revision is `revision` (an election key still held).
        static func created(_ key: String, at revision: Int64) -> Compare {
            Compare(target: "CREATE", key: base64(key), create_revision: .init(revision), mod_revision: nil, result: "EQUAL")
        }

        /// The key was last written at `revision` (0: it does not exist).
        static func modified(_ key: String, at revision: Int64) -> Compare {
            Compare(target: "MOD", key: base64(key), create_revision: nil, mod_revision: .init(revision), result: "EQUAL")
        }
    }
    struct RequestOp: Encodable {
        var request_put: Put?
        var request_delete_range: Range?

        init(request_put: Put) { self.request_put = request_put }
        init(request_delete_range: Range) { self.request_delete_range = request_delete_range }
    }
    struct Txn: Encodable { var compare: [Compare]; var success: [RequestOp] }
    struct TxnResponse: Decodable { var header: Header?; var succeeded: Bool? }

    struct Campaign: Encodable { var name: String; var lease: Int64Text; var value: String }
    struct LeaderKey: Codable, Sendable { var name: String?; var key: String?; var rev: Int64Text?; var lease: Int64Text? }
    struct CampaignResponse: Decodable { var leader: LeaderKey? }
    struct LeaderRequest: Encodable { var name: String }
    struct LeaderResponse: Decodable { var kv: KeyValue? }
    struct Resign: Encodable { var leader: LeaderKey }

    struct WatchCreate: Encodable {
        struct Create: Encodable { var key: String; var range_end: String; var start_revision: Int64Text }
        var create_request: Create
    }
    struct WatchMessage: Decodable {
        struct Result: Decodable {
            struct Event: Decodable { var type: String?; var kv: KeyValue? }
            var header: Header?
            var events: [Event]?
            var canceled: Bool?
            var compact_revision: Int64Text?
            var cancel_reason: String?
        }
        var result: Result?
        var error: ErrorBody?
    }
    struct ErrorBody: Decodable { var message: String?; var code: Int? }
}

/// A key and value read from etcd, decoded.
public struct EtcdEntry: Sendable, Equatable {
    public var key: String
    public var value: Data
    public var createRevision: Int64
    public var modRevision: Int64

    init?(_ kv: EtcdWire.KeyValue) {
        guard let key = kv.key.flatMap({ Data(base64Encoded: $0) }) else { return nil }
        self.key = String(decoding: key, as: UTF8.self)
        self.value = kv.value.flatMap { Data(base64Encoded: $0) } ?? Data()
        self.createRevision = kv.create_revision?.value ?? 0
        self.modRevision = kv.mod_revision?.value ?? 0
    }
}

/// One change seen by a watch.
public enum EtcdChange: Sendable, Equatable {
    case put(EtcdEntry)
    case delete(key: String, revision: Int64)

    public var key: String {
        switch self {
        case .put(let entry): entry.key
        case .delete(let key, _): key
        }
    }
}
