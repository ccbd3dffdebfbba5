/// Where traffic goes: an integer weight per region that always sums to `total`.
public struct TrafficPlan: Sendable, Equatable, Codable {
    /// Region id to weight, in plan units.
    public var weights: [String: Int]
    public var total: Int

    public init(weights: [String: Int], total: Int) {
        self.weights = weights
        self.total = total
    }

    public func weight(_ region: String) -> Int { self.weights[region] ?? 0 }

    /// Every weight is within 0...total and they sum to exactly `total`. A plan read back
    /// from disk is used only if it is valid; the engine never makes an invalid one.
    public var isValid: Bool {
        guard self.total > 0 else { return false }
        var sum = 0
        for weight in self.weights.values {
            guard (0...self.total).contains(weight) else { return false }
            sum += weight  // cannot overflow: each term is at most `total`, and there are few
            if sum > self.total { return false }
        }
        return sum == self.total
    }

    /// Turns non-negative real shares into integers that sum to exactly `total`
    /// (largest remainder; ties go to the region listed first).
    ///
    /// All-zero shares give an all-zero plan only when `total` is 0; otherwise the
    /// caller must not ask (a plan always places all traffic).
    public static func apportion(_ shares: [(String, Double)], total: Int) -> TrafficPlan {
        // A share that is not a finite number (a damaged input) counts as 0.
        let shares = shares.map { ($0.0, $0.1.isFinite ? max(0, $0.1) : 0) }
        let sum = shares.reduce(0.0) { $0 + $1.1 }
        guard sum > 0, total > 0 else {
            return TrafficPlan(weights: Dictionary(shares.map { ($0.0, 0) }, uniquingKeysWith: { a, _ in a }), total: total)
        }
        var weights: [String: Int] = [:]
        var remainders: [(index: Int, id: String, remainder: Double)] = []
        var assigned = 0
        for (index, (id, share)) in shares.enumerated() {
            let exact = max(0, share) / sum * Double(total)
            let whole = Int(exact.rounded(.down))
            weights[id] = whole
            assigned += whole
            remainders.append((index, id, exact - Double(whole)))
        }
        remainders.sort { $0.remainder != $1.remainder ? $0.remainder > $1.remainder : $0.index < $1.index }
        var left = total - assigned
        var i = 0
        while left > 0 {
            // Only regions with a share may receive the leftover units.
            let candidate = remainders[i % remainders.count]
            if shares[candidate.index].1 > 0 {
                weights[candidate.id, default: 0] += 1
                left -= 1
            }
            i += 1
        }
        return TrafficPlan(weights: weights, total: total)
    }

    /// `eu-west=5000 us-east=3000 ap-south=2000`, in the given order.
    public func description(order: [String]) -> String {
        order.map { "\($0)=\(self.weight($0))" }.joined(separator: " ")
    }
}

extension TrafficPlan {
    /// Reads `description(order:)` back (events carry plans as text). Malformed text: nil.
    public init?(text: String) {
        var weights: [String: Int] = [:]
        var total = 0
        for part in text.split(separator: " ") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let weight = Int(pair[1]), weight >= 0, weight <= 1_000_000_000 else { return nil }
            weights[String(pair[0])] = weight
            total += weight
        }
        guard !weights.isEmpty else { return nil }
        self.init(weights: weights, total: total)
    }
}

/// The ladder of targets for moved traffic: healthy regions first; degraded ones (not
/// failing themselves) only for an unhealthy region's traffic when no healthy one can
/// take it. A dead region's users are better off on a slow region than on errors (Envoy
/// uses degraded hosts when healthy ones fall short); never the other way round.
public enum TargetRung: String, Sendable, Codable, CaseIterable {
    case healthy
    case degraded
}
