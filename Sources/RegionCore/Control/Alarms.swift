/// What is wrong beyond region statuses, loud at the front of `STATUS=` and of
/// `regionctl status`, until it clears by itself.
public struct Alarms: Sendable, Equatable, Codable {
    /// False while the state database refuses writes (decisions are refused).
    public var recording: Bool
    /// Failing regions that keep their traffic because no healthy region can take it;
    /// `panic` is also set when a move under way has nowhere to go.
    public var panic: Bool
    public var stranded: [String]
    /// Targets of the plan whose last attempt failed (`state_file`, `haproxy`, `hook`).
    public var targetsFailing: [String]
    /// Set while regiond is starved and holds statuses and automatic decisions.
    public var held: ScheduleHealth.Hold?
    /// Alone: set while regiond suspects its own network and holds automatic decisions.
    public var suspect: SelfSuspicion.Suspect?

    public init(recording: Bool = true, panic: Bool = false, stranded: [String] = [], targetsFailing: [String] = [], held: ScheduleHealth.Hold? = nil) {
        self.recording = recording
        self.panic = panic
        self.stranded = stranded
        self.targetsFailing = targetsFailing
        self.held = held
    }

    /// `STATE DATABASE NOT WRITABLE, ... | NO HEALTHY TARGET ... | PLAN NOT APPLIED to haproxy | `,
    /// or empty when all is well. Each part ends with ` | ` so the summary follows.
    public var prefix: String {
        var text = ""
        if let held = self.held { text += "DECISIONS HELD, regiond is overloaded: \(held.reason) | " }
        if let suspect = self.suspect { text += "OBSERVER SUSPECT, automatic decisions held: \(suspect.summary) | " }
        if !self.recording { text += "STATE DATABASE NOT WRITABLE, failover decisions refused | " }
        if self.panic {
            text += self.stranded.isEmpty
                ? "NO HEALTHY TARGET, plan kept | "
                : "NO HEALTHY TARGET for \(self.stranded.joined(separator: ", ")), plan kept | "
        }
        if !self.targetsFailing.isEmpty { text += "PLAN NOT APPLIED to \(self.targetsFailing.joined(separator: ", ")) | " }
        return text
    }
}
