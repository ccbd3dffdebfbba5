/// Why a region's traffic is held, as the engine last said it: raised once (not every
/// round), cleared when it no longer holds, and shown in `regionctl traffic`.
public enum RegionAlert: Sendable, Equatable, Codable {
    /// The region is failing but its traffic stays (strategy manual, a pin, its cooldown, no target).
    case blocked(String)
    /// A gradual move has no healthy target left for its next step.
    case halted
    /// The cascading chain has too little spare capacity for the region's share.
    case capacityShort
    /// The region is ready to get its traffic back but waits (manual failback, a pin, the cooldown, lag).
    case failbackHeld(String)

    /// The text for `traffic`'s WHY column.
    public var note: String {
        switch self {
        case .blocked(let reason): reason
        case .halted: "gradual move halted: no healthy target left"
        case .capacityShort: "the cascading chain has too little spare capacity"
        case .failbackHeld(let reason): reason
        }
    }

    // A state file written before this type stored the alert as plain text.
    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            switch text {
            case "halted": self = .halted
            case "capacity": self = .capacityShort
            default: self = .blocked(text)
            }
            return
        }
        let container = try decoder.container(keyedBy: Keys.self)
        let reason = try container.decodeIfPresent(String.self, forKey: .reason) ?? ""
        switch try container.decode(String.self, forKey: .kind) {
        case "halted": self = .halted
        case "capacity_short": self = .capacityShort
        case "failback_held": self = .failbackHeld(reason)
        default: self = .blocked(reason)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        switch self {
        case .blocked(let reason):
            try container.encode("blocked", forKey: .kind)
            try container.encode(reason, forKey: .reason)
        case .halted: try container.encode("halted", forKey: .kind)
        case .capacityShort: try container.encode("capacity_short", forKey: .kind)
        case .failbackHeld(let reason):
            try container.encode("failback_held", forKey: .kind)
            try container.encode(reason, forKey: .reason)
        }
    }

    enum Keys: String, CodingKey { case kind, reason }
}
