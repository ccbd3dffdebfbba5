import FoundationEssentials

/// `simulate`: what the engine would do, from the live state, if the scripted things
/// happened. Pure: it runs a copy of the engine on made-up signals and times, and
/// touches nothing.
///
/// A script is a list of steps such as `eu fails`, `us degrades at +60s`,
/// `eu recovers at +2m`, `us lags 45s at +1m` or `drain eu for 1h at +30s`. The simulation
/// starts from the statuses as they are (detection, rise and fall are not simulated:
/// a step sets the status the evaluator would reach), applies each step at its time,
/// and runs every deadline the engine sets (gradual steps, the recovery window,
/// cooldowns, a pin's end, maintenance windows) until nothing is left to happen, or `until`.
public enum Simulation {
    /// One scripted step.
    public struct Step: Sendable, Equatable {
        /// After the start of the simulation.
        public var at: Duration
        public var action: Action
        /// The text it was read from.
        public var text: String
    }

    public enum Action: Sendable, Equatable {
        /// The region's status becomes this (its lag and capacity are kept unless given).
        case status(String, RegionStatus, passing: Bool, trigger: Trigger?)
        /// One evaluation that is not healthy, then healthy again (restarts a recovery window).
        case flap(String)
        case lag(String, Double)
        case capacity(String, Double)
        /// One endpoint of a region with `require` or a `critical` endpoint fails or recovers;
        /// the region's status follows its ``EndpointRequirement``.
        case endpoint(String, String, passing: Bool)
        case command(OperatorCommand)
    }

    /// The longest a simulation may cover.
    public static let longest: Duration = .seconds(7 * 86_400)
    /// The most engine rounds one simulation may take.
    public static let maxRounds = 10_000
    /// The most steps one script may have.
    public static let maxSteps = 100

    /// Reads one step; `defaultAt` applies when it has no `at +T`.
    public static func parse(_ text: String, defaultAt: Duration = .zero) -> Result<Step, ControlError> {
        var words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        var at = defaultAt
        if words.count >= 2, words[words.count - 2] == "at" {
            let when = words.removeLast()
            words.removeLast()
            switch DurationText.parse(when.hasPrefix("+") ? String(when.dropFirst()) : when, field: "at", in: .zero...Self.longest) {
            case .success(let duration): at = duration
            case .failure(let error): return .failure(ControlError(.badRequest, "step '\(clip(text, bytes: 80))': \(error.message)"))
            }
        }
        switch self.action(words) {
        case .success(let action): return .success(Step(at: at, action: action, text: text))
        case .failure(let message): return .failure(ControlError(.badRequest, "step '\(clip(text, bytes: 80))': \(message.text)"))
        }
    }

    struct Message: Error { var text: String }

    static let grammar =
        "write REGION fails | degrades [by error_rate|capacity|latency|timeout] | recovers | flaps | lags SECONDS | capacity PERCENT | endpoint NAME fails|recovers, or failover REGION [to REGION] [strategy S] | drain REGION [for DURATION] | enable REGION | disable REGION [for DURATION] | pin | unpin | confirm; then optionally at +DURATION"

    static func action(_ w: [String]) -> Result<Action, Message> {
        guard let first = w.first else { return .failure(Message(text: "empty step; \(grammar)")) }
        switch first {
        case "failover":
            guard w.count >= 2 else { return .failure(Message(text: "failover needs a region")) }
            var to: String?
            var strategy: FailoverStrategy?
            var rest = w.dropFirst(2)
            while let word = rest.first {
                rest = rest.dropFirst()
                guard let value = rest.first else { return .failure(Message(text: "'\(word)' needs a value")) }
                rest = rest.dropFirst()
                switch word {
                case "to": to = value
                case "strategy":
                    guard let s = FailoverStrategy(rawValue: value), s != .manual else { return .failure(Message(text: "'\(value)' is not a strategy to move with")) }
                    strategy = s
                default: return .failure(Message(text: "unexpected '\(word)'; \(grammar)"))
                }
            }
            return .success(.command(.failover(from: w[1], to: to, strategy: strategy)))
        case "enable":
            guard w.count == 2 else { return .failure(Message(text: "enable needs one region")) }
            return .success(.command(.enable(w[1])))
        case "drain", "disable":
            guard w.count == 2 || (w.count == 4 && w[2] == "for") else { return .failure(Message(text: "\(first) needs one region, then optionally for DURATION")) }
            var window = MaintenanceWindow.untilEnabled
            if w.count == 4 {
                switch DurationText.parse(w[3], field: "for", in: .seconds(1)...MaintenanceWindow.longest) {
                case .success(let length): window.length = length
                case .failure(let error): return .failure(Message(text: error.message))
                }
            }
            return .success(.command(first == "drain" ? .drain(w[1], window) : .disable(w[1], window)))
        case "pin":
            return w.count == 1 ? .success(.command(.pin(ttl: nil))) : .failure(Message(text: "pin takes nothing more"))
        case "unpin":
            return w.count == 1 ? .success(.command(.unpin)) : .failure(Message(text: "unpin takes nothing more"))
        case "confirm":
            return w.count == 1 ? .success(.command(.confirm)) : .failure(Message(text: "confirm takes nothing more"))
        default:
            break
        }
        guard w.count >= 2 else { return .failure(Message(text: grammar)) }
        let region = w[0]
        switch (w[1], w.count) {
        case ("fails", 2): return .success(.status(region, .unhealthy, passing: false, trigger: nil))
        case ("degrades", 2): return .success(.status(region, .degraded, passing: false, trigger: nil))
        case ("degrades", 4) where w[2] == "by":
            guard let trigger = Trigger(rawValue: w[3]), trigger != .manual, trigger != .unhealthy else {
                return .failure(Message(text: "'\(w[3])' is not one of error_rate, capacity, latency, timeout"))
            }
            return .success(.status(region, .degraded, passing: false, trigger: trigger))
        case ("recovers", 2): return .success(.status(region, .healthy, passing: true, trigger: nil))
        case ("flaps", 2): return .success(.flap(region))
        case ("endpoint", 4) where ["fails", "recovers"].contains(w[3]):
            return .success(.endpoint(region, w[2], passing: w[3] == "recovers"))
        case ("lags", 3):
            guard let lag = parseLag(w[2]) else { return .failure(Message(text: "'\(w[2])' is not a lag such as 30s")) }
            return .success(.lag(region, lag))
        case ("capacity", 3):
            guard let capacity = FractionText.parse(w[2]), (0...1).contains(capacity) else { return .failure(Message(text: "'\(w[2])' is not a capacity such as 40%")) }
            return .success(.capacity(region, capacity))
        default:
            return .failure(Message(text: "cannot read '\(w.joined(separator: " "))'; \(grammar)"))
        }
    }
}
