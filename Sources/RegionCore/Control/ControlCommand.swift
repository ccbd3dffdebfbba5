import FoundationEssentials

/// Every command of the control protocol, and whether it changes state.
///
/// The dispatcher switches over this enum exhaustively and checks ``mutatesState``
/// before it runs anything, so a new command cannot be added without saying which it
/// is, and cannot skip the permission check.
public enum ControlCommand: String, Sendable, CaseIterable {
    case status
    case regions
    case region
    case version
    case help
    case watch
    case traffic
    case history
    case analytics
    /// Probe every endpoint of a region now, out of schedule (rate-limited).
    case probe
    /// Where new traffic should go now, and why.
    case best
    /// What the engine would do if the scripted things happened (touches nothing).
    case simulate
    case reload
    case failover
    case drain
    case enable
    case disable
    case setWeights = "set-weights"
    case pin
    case unpin
    /// Alone: the regions that began failing at once really failed; decisions resume.
    case confirm

    /// Commands that change state need root, the daemon's own user, or `admin_group`.
    public var mutatesState: Bool {
        switch self {
        case .status, .regions, .region, .version, .help, .watch, .traffic, .history, .analytics, .probe, .best, .simulate: false
        case .reload, .failover, .drain, .enable, .disable, .setWeights, .pin, .unpin, .confirm: true
        }
    }

    /// The names, in the order `version` lists them.
    public static var names: [String] { self.allCases.map(\.rawValue) }
}

extension ControlRequest {
    /// The longest `pin` a client may ask for.
    public static let pinRange: ClosedRange<Duration> = .seconds(1)...Duration.seconds(30 * 86_400)
    /// How far back `history` and `analytics` may look when `since` is a duration.
    public static let sinceRange: ClosedRange<Duration> = .zero...DurationText.maximum

    /// `since` as a time: an ISO 8601 time, or a duration before `now`; nil when absent.
    public func sinceDate(now: Date) -> Result<Date?, ControlError> {
        guard let text = self.since else { return .success(nil) }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return .success(date) }
        switch DurationText.parse(text) {
        case .failure(.malformed):
            return .failure(ControlError(.badRequest, "since '\(text)' is neither an ISO 8601 time nor a duration such as \"1h\""))
        case .failure(.tooLong):
            return .failure(ControlError(.badRequest, DurationText.problem("since", text, .tooLong, range: Self.sinceRange)))
        case .success(let ago):
            return .success(now.addingTimeInterval(-ago.seconds))
        }
    }

    /// The `status` filter of `regions`: the statuses asked for, or why the text is not one.
    public func statusFilter() -> Result<Set<RegionStatus>?, ControlError> {
        guard let text = self.status, !text.isEmpty else { return .success(nil) }
        var wanted: Set<RegionStatus> = []
        for name in text.split(separator: ",") {
            guard let status = RegionStatus(rawValue: name.trimmingSpaces) else {
                let known = RegionStatus.allCases.map(\.rawValue).joined(separator: ", ")
                return .failure(ControlError(.badRequest, "status '\(clip(String(name), bytes: 40))' is not one of \(known)"))
            }
            wanted.insert(status)
        }
        return .success(wanted)
    }

    /// The steps of `simulate`, read and checked.
    public func simulationSteps() -> Result<[Simulation.Step], ControlError> {
        guard let texts = self.steps, !texts.isEmpty else {
            return .failure(ControlError(.badRequest, "'simulate' needs \"steps\": [\"eu fails\", \"us degrades at +60s\", ...]"))
        }
        guard texts.count <= Simulation.maxSteps else {
            return .failure(ControlError(.badRequest, "\(texts.count) steps; a simulation takes at most \(Simulation.maxSteps)"))
        }
        var at = Duration.zero
        if let text = self.at {
            switch DurationText.parse(text.hasPrefix("+") ? String(text.dropFirst()) : text, field: "at", in: .zero...Simulation.longest) {
            case .success(let value): at = value
            case .failure(let error): return .failure(error)
            }
        }
        var steps: [Simulation.Step] = []
        for text in texts {
            switch Simulation.parse(text, defaultAt: at) {
            case .success(let step): steps.append(step)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(steps)
    }

    /// The `until` of `simulate`; nil: until nothing is left to happen.
    public func simulationLimit() -> Result<Duration?, ControlError> {
        guard let text = self.until else { return .success(nil) }
        return DurationText.parse(text.hasPrefix("+") ? String(text.dropFirst()) : text, field: "until", in: .seconds(1)...Simulation.longest).map { $0 }
    }

    /// The window of `drain` and `disable`: `at` (an ISO 8601 time; absent: now) and `ttl`
    /// (how long; absent: until `enable`).
    public func maintenanceWindow(_ command: ControlCommand) -> Result<MaintenanceWindow, ControlError> {
        var window = MaintenanceWindow()
        if let text = self.ttl {
            switch DurationText.parse(text, field: "ttl", in: .seconds(1)...MaintenanceWindow.longest) {
            case .success(let length): window.length = length
            case .failure(let error): return .failure(error)
            }
        }
        if let text = self.at {
            guard let start = try? Date(text, strategy: Date.ISO8601FormatStyle()) else {
                return .failure(
                    ControlError(.badRequest, "at '\(clip(text, bytes: 40))' is not an ISO 8601 time such as 2026-12-08T02:00:00Z (regionctl also takes 02:00 or +30m)"))
            }
            window.start = start
        }
        return .success(window)
    }

    /// The `ttl` of `pin`; nil when absent (until `unpin`).
    public func pinTTL() -> Result<Duration?, ControlError> {
        guard let text = self.ttl else { return .success(nil) }
        return DurationText.parse(text, field: "ttl", in: Self.pinRange).map { $0 }
    }

    /// The operator command a state-changing request asks for, or why it is not one.
    public func operatorCommand(_ command: ControlCommand) -> Result<OperatorCommand, ControlError> {
        let region = self.region.flatMap { $0.isEmpty ? nil : $0 }
        switch command {
        case .failover:
            guard let from = region else { return .failure(ControlError(.badRequest, "'failover' needs \"region\": the region to move traffic away from")) }
            var strategy: FailoverStrategy?
            if let text = self.strategy {
                guard let s = FailoverStrategy(rawValue: text), s != .manual else {
                    let names = FailoverStrategy.allCases.filter { $0 != .manual }.map(\.rawValue).joined(separator: ", ")
                    return .failure(ControlError(.badRequest, "strategy '\(text)' is not one of \(names)"))
                }
                strategy = s
            }
            let to = self.to.flatMap { $0.isEmpty ? nil : $0 }
            if self.overrideResidency == true, to == nil {
                return .failure(ControlError(.badRequest, "\"override_residency\" needs \"to\": the region to send the traffic to"))
            }
            return .success(.failover(from: from, to: to, strategy: strategy, overrideResidency: self.overrideResidency ?? false))
        case .drain, .enable, .disable:
            guard let name = region else { return .failure(ControlError(.badRequest, "'\(command.rawValue)' needs a \"region\" field")) }
            if command == .enable {
                guard self.ttl == nil, self.at == nil else { return .failure(ControlError(.badRequest, "'enable' takes no \"ttl\" or \"at\"")) }
                return .success(.enable(name))
            }
            return self.maintenanceWindow(command).map { command == .drain ? .drain(name, $0) : .disable(name, $0) }
        case .setWeights:
            guard let weights = self.weights, !weights.isEmpty else {
                return .failure(ControlError(.badRequest, "'set-weights' needs \"weights\": {\"region\": weight, ...}"))
            }
            return .success(.setWeights(weights))
        case .pin:
            guard self.reason.map({ !$0.trimmingSpaces.isEmpty }) ?? false else {
                return .failure(ControlError(.badRequest, "'pin' needs a \"reason\": say why automatic failover is frozen"))
            }
            return self.pinTTL().map { .pin(ttl: $0) }
        case .unpin:
            return .success(.unpin)
        case .confirm:
            return .success(.confirm)
        case .status, .regions, .region, .version, .help, .watch, .traffic, .history, .analytics, .probe, .best, .simulate, .reload:
            return .failure(ControlError(.internal, "'\(command.rawValue)' is not an operator command"))
        }
    }
}
