/// Whether a probe result says something about the region, or only about regiond.
///
/// A failure counts against a region only when regiond did its part on time. A probe
/// that regiond could not even run (no file descriptor to spare: `local`), or that
/// timed out while regiond itself was starved (it started late, or its deadline fired
/// late, so an answer may have sat unread), is no evidence either way; it is left out
/// of the window. A pass always counts, and so does a failure the endpoint itself
/// gave (refused, a wrong status, a bad body), however late regiond was.
public enum ProbeEvidence: Sendable, Equatable {
    case counts
    /// Left out of the window, and why.
    case discounted(String)

    /// Lateness beyond this means regiond, not the endpoint, is the slow party.
    public static let starvedAfter: Duration = .milliseconds(100)

    /// - Parameters:
    ///   - startLateness: how late the probe started against its schedule.
    ///   - elapsed: how long it ran; for a timeout, `elapsed - timeout` is how late the deadline fired.
    public static func judge(failure: ProbeFailure?, startLateness: Duration, elapsed: Duration, timeout: Duration) -> ProbeEvidence {
        switch failure {
        case nil:
            return .counts
        case .local?:
            return .discounted("regiond could not run the probe")
        case .timeout?:
            if startLateness > Self.starvedAfter {
                return .discounted("started \(formatMs(startLateness.milliseconds)) late: regiond was starved")
            }
            let overrun = elapsed - timeout
            if overrun > Self.starvedAfter {
                return .discounted("its deadline fired \(formatMs(overrun.milliseconds)) late: regiond was starved")
            }
            return .counts
        case .some:
            return .counts
        }
    }
}
