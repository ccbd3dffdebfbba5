import FoundationEssentials

/// A lone regiond suspects itself (issue 26). When more than `fraction` of the enabled
/// regions begin failing within one status window, the likeliest cause is this observer's
/// own network, not that many regions broke at once: automatic decisions are held, and
/// `observer_suspect` is raised once. They resume when fewer regions fail, or when an
/// operator confirms the failures are real (`regionctl confirm`).
///
/// Route 53's rule is the anchor: a health check is unhealthy only when most of its
/// checkers agree. Cluster mode has that through the quorum of observers; this rule is
/// for an instance that has no one to agree with. Pure: it is fed the signals and `now`.
public struct SelfSuspicion: Sendable, Equatable {
    /// More than this fraction of the enabled regions (and at least two) beginning to fail
    /// within `window` makes this instance suspect itself. 1 (100%): never.
    public var fraction: Double
    public var window: Duration
    /// When each troubled region (failing, or its latest evaluation not passing) became so.
    public private(set) var failingSince: [String: Date] = [:]
    /// Set while this instance suspects itself.
    public private(set) var suspect: Suspect?
    /// An operator said the failures are real: no suspicion until fewer regions fail.
    public private(set) var confirmed = false

    public struct Suspect: Sendable, Equatable, Codable {
        public var since: Date
        /// The regions that began failing within the window, sorted.
        public var regions: [String]
        /// Enabled regions when it began.
        public var enabled: Int
    }

    public enum Change: Sendable, Equatable {
        case began(Suspect)
        /// `fewerFail`: as many regions fail as may; `confirmed`: an operator said so.
        case ended(Suspect, SuspicionEnd)
    }

    public init(fraction: Double = 0.5, window: Duration = .seconds(60)) {
        self.fraction = fraction
        self.window = window
    }

    /// Too many: more than `fraction` of `enabled`, and at least two (one failing region is
    /// what regiond is for).
    func tooMany(_ count: Int, of enabled: Int) -> Bool {
        count >= 2 && Double(count) > self.fraction * Double(enabled)
    }

    /// Takes the latest signal of every enabled region; says when suspicion begins or ends.
    ///
    /// A region is *troubled* when it fails or its latest evaluation alone did not pass
    /// (and it is not unknown: a region still waiting for samples says nothing).
    /// Counting the early sign matters: when this observer's network breaks, every region's
    /// probes fail within one probe interval, but hysteresis turns them unhealthy one by
    /// one; counting only failing regions would fail the first over before the second is
    /// seen. A suspicion begins only when some region fails (a decision is due) and more
    /// than `fraction` of the enabled regions became troubled within `window`.
    public mutating func observe(_ signals: [String: RegionSignal], enabled: [String], now: Date) -> Change? {
        // An unknown region (too few samples yet) is not evidence of anything.
        let troubled = Set(enabled.filter { signals[$0].map { $0.failing || (!$0.passing && $0.status != .unknown) } ?? false })
        self.failingSince = self.failingSince.filter { troubled.contains($0.key) }
        for id in troubled where self.failingSince[id] == nil { self.failingSince[id] = now }
        if let suspect = self.suspect {
            guard !self.tooMany(troubled.count, of: enabled.count) else { return nil }
            self.suspect = nil
            return .ended(suspect, .fewerFail)
        }
        if self.confirmed {
            if !self.tooMany(troubled.count, of: enabled.count) { self.confirmed = false }
            return nil
        }
        guard enabled.contains(where: { signals[$0]?.failing ?? false }) else { return nil }
        let since = now.addingTimeInterval(-self.window.seconds)
        let recent = self.failingSince.filter { $0.value >= since }.map(\.key).sorted()
        guard self.tooMany(recent.count, of: enabled.count) else { return nil }
        let suspect = Suspect(since: now, regions: recent, enabled: enabled.count)
        self.suspect = suspect
        return .began(suspect)
    }

    /// An operator confirms the failures are real; nil when nothing was suspected.
    public mutating func confirm() -> Change? {
        guard let suspect = self.suspect else { return nil }
        self.suspect = nil
        self.confirmed = true
        return .ended(suspect, .confirmed)
    }

    /// A reload: the new fraction and window; what was seen stays.
    public mutating func reconfigure(fraction: Double, window: Duration) {
        self.fraction = fraction
        self.window = window
    }
}

/// Why a suspicion ended.
public enum SuspicionEnd: String, Sendable, Codable {
    case fewerFail = "fewer_fail"
    case confirmed
}
