import FoundationEssentials

/// Everything regiond reports happens as an `Event`: one type, many sinks (the history
/// database, the journal, `regionctl watch`, `/events`, metrics, alerts, `STATUS=`).
///
/// Each kind carries its own typed value (``EventPayload``); sinks read that value and
/// never parse text back. `fields` is only how the value is written for people and the
/// journal. The `id` is the event's place in the one sequence of this instance: every
/// sink receives events in id order (``EventBus``).
public struct Event: Sendable, Equatable {
    /// Place in the sequence, increasing across restarts; 0 until the bus numbers it.
    public var id: UInt64
    public var time: Date
    public var region: String?
    /// One readable sentence.
    public var message: String
    public var payload: EventPayload
    /// Set on the events of a failover decision: the plan it put in force and, in cluster
    /// mode, the etcd revision of its commit and who committed it.
    public var decision: DecisionStamp?

    public var kind: EventKind { self.payload.kind }

    public init(id: UInt64 = 0, time: Date, region: String? = nil, message: String, _ payload: EventPayload, decision: DecisionStamp? = nil) {
        self.id = id
        self.time = time
        self.region = region
        self.message = message
        self.payload = payload
        self.decision = decision
    }

    /// The event's values as text, keyed lower_snake_case (journal fields, `fields` in JSON).
    public var fields: [String: String] {
        var out: [String: String] = [:]
        for (key, value) in self.payload.detail?.fields ?? [] { out[key] = value }
        for (key, value) in self.decision?.fields ?? [] { out[key] = value }
        return out
    }

    /// The journal fields of this event (without `MESSAGE` and `PRIORITY`).
    public var journalFields: [(String, String)] {
        var out: [(String, String)] = [("MESSAGE_ID", self.kind.messageID), ("REGIOND_EVENT", self.kind.rawValue)]
        if let region = self.region { out.append(("REGIOND_REGION", region)) }
        for (key, value) in self.fields.sorted(by: { $0.key < $1.key }) {
            out.append(("REGIOND_" + journalFieldName(key), value))
        }
        return out
    }
}

/// What a decision's events share: the plan after it, and where it was committed.
public struct DecisionStamp: Sendable, Equatable, Codable {
    /// The plan in force after the decision, in config order; nil when it did not change.
    public var plan: [RegionWeight]?
    /// Cluster mode: the etcd revision of the commit, the same on every instance.
    public var revision: Int64?
    /// Cluster mode: the observer that committed it.
    public var leader: String?

    public init(plan: [RegionWeight]? = nil, revision: Int64? = nil, leader: String? = nil) {
        self.plan = plan
        self.revision = revision
        self.leader = leader
    }

    /// `eu=0 us=10000`.
    public var planText: String? { self.plan.map { $0.map(\.description).joined(separator: " ") } }

    var fields: [(String, String)] {
        var out: [(String, String)] = []
        if let planText { out.append(("plan", planText)) }
        if let revision { out.append(("revision", "\(revision)")) }
        if let leader { out.append(("leader", leader)) }
        return out
    }
}

extension TrafficPlan {
    /// The plan's weights as a list in `order` (config order), for an event.
    public func weights(order: [String]) -> [RegionWeight] {
        order.map { RegionWeight(region: $0, weight: self.weight($0)) }
    }
}

/// Events as JSON (`watch`, `history`, `/events`, the history database): `kind`, the typed
/// value under `data`, and `fields`, the same value as text for people and `jq`.
/// Reading takes `data` and ignores `fields`.
extension Event: Codable {
    enum CodingKeys: String, CodingKey {
        case id, time, kind, region, message, fields, data, decision
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try container.decode(UInt64.self, forKey: .id)
        self.time = try container.decode(Date.self, forKey: .time)
        self.region = try container.decodeIfPresent(String.self, forKey: .region)
        self.message = try container.decode(String.self, forKey: .message)
        let kind = try container.decode(EventKind.self, forKey: .kind)
        self.payload = try EventPayload(kind: kind, data: container.contains(.data) ? container.superDecoder(forKey: .data) : nil)
        self.decision = try container.decodeIfPresent(DecisionStamp.self, forKey: .decision)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.time, forKey: .time)
        try container.encode(self.kind, forKey: .kind)
        try container.encodeIfPresent(self.region, forKey: .region)
        try container.encode(self.message, forKey: .message)
        try container.encode(self.fields, forKey: .fields)
        if let detail = self.payload.detail { try detail.encode(to: container.superEncoder(forKey: .data)) }
        try container.encodeIfPresent(self.decision, forKey: .decision)
    }
}

/// Turns `previous_status` into `PREVIOUS_STATUS`; journald keeps only `[A-Z0-9_]`.
public func journalFieldName(_ key: String) -> String {
    String(key.uppercased().unicodeScalars.map { ("A"..."Z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_" })
}
