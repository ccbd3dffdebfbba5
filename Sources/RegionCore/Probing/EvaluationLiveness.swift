/// The watchdog's rule: does every region's evaluation keep time?
///
/// A region is stalled when its evaluation tick last ran more than three of its
/// intervals ago, or, before its first tick, when its monitor started more than three
/// intervals ago. (Measuring the second case from the daemon's start made a region
/// added by a reload long after start read as stalled until its first tick.)
public enum EvaluationLiveness {
    /// How many intervals a tick may be late before the region counts as stalled.
    public static let allowedIntervals = 3

    /// `sinceLastEvaluation`: time since the tick last ran (nil: never); `sinceStart`:
    /// time since the region's monitor started.
    public static func isStalled(sinceLastEvaluation: Duration?, sinceStart: Duration, interval: Duration) -> Bool {
        let limit = interval * Self.allowedIntervals
        return (sinceLastEvaluation ?? sinceStart) > limit
    }
}
