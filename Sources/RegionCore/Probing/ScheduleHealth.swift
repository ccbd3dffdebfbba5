import FoundationEssentials

/// Whether regiond keeps its own schedule, and so whether what it sees of the regions
/// can be trusted. A pure rule: it is given readings and `now`.
///
/// A daemon starved of CPU starts probes late and reads answers late; its probes time
/// out and healthy regions look dead. Moving traffic on that view piles it onto the few
/// regions that happened to answer. So when probes start late or the event loops run
/// behind, regiond **holds**: statuses stay as they were and no automatic decision is
/// made. It resumes once its schedule has been healthy for `calmFor`, not at the first
/// good reading (Envoy's panic threshold is the same humility).
public struct ScheduleHealth: Sendable, Equatable {
    /// Hold once probe start lateness (p99 over the last period) or event-loop lag goes above this ...
    public var holdAboveMs: Double
    /// ... and resume once both have stayed below this for `calmFor`.
    public var releaseBelowMs: Double
    public var calmFor: Duration
    public private(set) var held: Hold?
    private var calmSince: Date?

    /// Why and since when decisions are held.
    public struct Hold: Sendable, Equatable, Codable {
        public var since: Date
        public var reason: String

        public init(since: Date, reason: String) {
            self.since = since
            self.reason = reason
        }
    }

    /// What the schedule watch measured over its last period; nil: nothing to go by.
    public struct Reading: Sendable, Equatable {
        public var latenessP99Ms: Double?
        public var loopLagMs: Double?

        public init(latenessP99Ms: Double?, loopLagMs: Double?) {
            self.latenessP99Ms = latenessP99Ms
            self.loopLagMs = loopLagMs
        }
    }

    public enum Change: Sendable, Equatable {
        case held(Hold)
        case released(heldSeconds: Double)
    }

    public init(holdAboveMs: Double = 200, releaseBelowMs: Double = 50, calmFor: Duration = .seconds(3)) {
        self.holdAboveMs = holdAboveMs
        self.releaseBelowMs = releaseBelowMs
        self.calmFor = calmFor
    }

    /// Takes one period's reading; returns a change of verdict, if any.
    public mutating func observe(_ reading: Reading, now: Date) -> Change? {
        guard reading.latenessP99Ms != nil || reading.loopLagMs != nil else { return nil }
        let lateness = reading.latenessP99Ms ?? 0
        let lag = reading.loopLagMs ?? 0
        let worst = max(lateness, lag)
        guard let held = self.held else {
            guard worst > self.holdAboveMs else { return nil }
            let reason =
                lateness >= lag
                ? "probes start \(formatMs(lateness)) late (p99)"
                : "its event loops run \(formatMs(lag)) behind"
            let hold = Hold(since: now, reason: reason)
            self.held = hold
            self.calmSince = nil
            return .held(hold)
        }
        guard worst < self.releaseBelowMs else {
            self.calmSince = nil
            return nil
        }
        let calmSince = self.calmSince ?? now
        self.calmSince = calmSince
        guard now.timeIntervalSince(calmSince) >= self.calmFor.seconds else { return nil }
        self.held = nil
        self.calmSince = nil
        return .released(heldSeconds: now.timeIntervalSince(held.since))
    }

    /// Whether one region's evaluation may move its status, judged at the evaluation
    /// itself: the watch reads the schedule only every half second, and a burst (10,000
    /// first probes at start) can starve regiond in between. An evaluation waits when
    /// the daemon holds, when the evaluation itself ran late (its loop was starved, so
    /// answers may sit unread), or when the loops have already fallen behind since the
    /// watch's last reading, by more than the bound that makes the watch hold (so a wait
    /// here is followed by a hold that says so, not a silent freeze: the daemon feeds a
    /// late evaluation to the watch's lag reading). Returns why it waits, or nil.
    public static func evaluationWaits(
        held: Hold?, evaluationLateness: Duration, loopLagSinceReadingMs: Double, holdAboveMs: Double = 200
    ) -> String? {
        if let held { return "regiond holds: \(held.reason)" }
        if evaluationLateness.milliseconds > holdAboveMs {
            return "the evaluation ran \(formatMs(evaluationLateness.milliseconds)) late: regiond is starved"
        }
        if loopLagSinceReadingMs > holdAboveMs { return "its event loops run \(formatMs(loopLagSinceReadingMs)) behind" }
        return nil
    }
}
