import FoundationEssentials

/// The result of `simulate`: each moment something happened, what, and the plan after it.
public struct SimulationReport: Sendable, Codable, Equatable {
    public struct Row: Sendable, Codable, Equatable {
        /// Seconds after the start.
        public var offset: Double
        public var time: Date
        /// The scripted steps applied at this moment (empty: a deadline came due).
        public var steps: [String]
        public var events: [Event]
        /// Region id to weight after this moment.
        public var plan: [String: Int]
        /// A scripted command the engine refused, and why.
        public var refused: String?
    }

    /// Region ids in config order, for the plan columns.
    public var regions: [String]
    public var start: Date
    public var rows: [Row]
    /// The simulation stopped at `until` or the round limit with deadlines still ahead.
    public var truncated: Bool
}

extension Simulation {
    /// Runs `steps` (any order) on a copy of `engine` from `start`, with `signals` as the
    /// regions' statuses at the start. Stops when no deadline is left, or at `until`.
    /// `suspicion` (alone): the self-suspicion rule holds automatic rounds as the daemon's
    /// decision machine does, and the step `confirm` lifts it. `requirements`: how each
    /// region's endpoints combine, for `REGION endpoint NAME fails`.
    public static func run(
        engine: FailoverEngine, signals: [String: RegionSignal], suspicion: SelfSuspicion? = nil, requirements: [String: EndpointRequirement] = [:],
        steps: [Step], start: Date, until: Duration? = nil
    ) -> SimulationReport {
        var engine = engine
        var suspicion = suspicion
        engine.assumeWarm()
        /// One automatic round, unless this instance would suspect itself.
        func round(_ signals: [String: RegionSignal], _ now: Date) -> [Event] {
            var events: [Event] = []
            if var rule = suspicion {
                let enabled = engine.regions.map(\.id).filter { engine.state.regions[$0]?.admin != .disabled }
                if let change = rule.observe(signals, enabled: enabled, now: now) { events.append(rule.event(for: change, uid: nil, now: now)) }
                suspicion = rule
                if rule.suspect != nil { return events }
            }
            return events + engine.step(signals, now: now).events
        }
        var signals = signals
        /// Endpoints the script failed, per region.
        var endpointsDown: [String: Set<String>] = [:]
        for region in engine.regions where signals[region.id] == nil {
            signals[region.id] = RegionSignal(status: .healthy, passing: true)
        }
        let order = engine.regions.map(\.id)
        let steps = steps.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        let lastStep = steps.last?.at ?? .zero
        let end = start.addingTimeInterval(min(until ?? Self.longest, Self.longest).seconds)
        var rows: [SimulationReport.Row] = []
        var rounds = 0
        var now = start
        var index = 0

        func record(_ at: Date, steps texts: [String], events: [Event], refused: String?) {
            guard !events.isEmpty || !texts.isEmpty || refused != nil else { return }
            let plan = Dictionary(uniqueKeysWithValues: order.map { ($0, engine.state.plan.weight($0)) })
            rows.append(SimulationReport.Row(offset: at.timeIntervalSince(start), time: at, steps: texts, events: events, plan: plan, refused: refused))
        }

        // The live state as it stands, then each moment: the steps due, or the next deadline.
        record(start, steps: [], events: round(signals, start), refused: nil)
        while rounds < Self.maxRounds {
            rounds += 1
            let nextStep = index < steps.count ? start.addingTimeInterval(steps[index].at.seconds) : nil
            let deadline = engine.nextDeadline(after: now)
            guard let moment = [nextStep, deadline].compactMap({ $0 }).min(), moment <= end else { break }
            now = moment
            var texts: [String] = []
            var events: [Event] = []
            var refused: [String] = []
            while index < steps.count, start.addingTimeInterval(steps[index].at.seconds) <= now {
                let step = steps[index]
                index += 1
                texts.append(step.text)
                switch step.action {
                case .command(.confirm):
                    if let change = suspicion?.confirm() {
                        events.append(suspicion!.event(for: change, uid: 0, now: now))
                    } else {
                        refused.append("\(step.text): nothing to confirm: no suspicion at this point")
                    }
                    continue
                case .command(let command):
                    do throws(ControlError) {
                        events += try engine.apply(command, by: 0, reason: "simulated: \(step.text)", signals: signals, now: now).events
                    } catch {
                        refused.append("\(step.text): \(error.message)")
                    }
                    continue
                case .status(let id, let status, let passing, let trigger):
                    signals[id, default: RegionSignal(status: .unknown, passing: false)].status = status
                    signals[id]!.passing = passing
                    signals[id]!.trigger = trigger
                case .flap(let id):
                    // One evaluation that is not healthy, then healthy again.
                    var flaky = signals[id] ?? RegionSignal(status: .healthy, passing: true)
                    flaky.passing = false
                    var copy = signals
                    copy[id] = flaky
                    events += round(copy, now)
                    signals[id]?.status = .healthy
                    signals[id]?.passing = true
                    signals[id]?.trigger = nil
                case .lag(let id, let lag):
                    signals[id]?.lag = lag
                case .capacity(let id, let capacity):
                    signals[id]?.capacity = capacity
                case .endpoint(let id, let name, let passing):
                    guard let requirement = requirements[id], requirement.endpoints.contains(name) else {
                        refused.append("\(step.text): \(id) has no endpoint \(name)")
                        continue
                    }
                    guard !requirement.isPooled else {
                        refused.append("\(step.text): \(id) pools its endpoints (no require, no critical endpoint); say '\(id) fails' or '\(id) degrades'")
                        continue
                    }
                    if passing { endpointsDown[id, default: []].remove(name) } else { endpointsDown[id, default: []].insert(name) }
                    let status = requirement.simulatedStatus(down: endpointsDown[id] ?? [])
                    signals[id, default: RegionSignal(status: .unknown, passing: false)].status = status
                    signals[id]!.passing = status == .healthy
                    signals[id]!.trigger = nil
                }
            }
            // Steps due at one moment happen at once: one round sees all of them.
            events += round(signals, now)
            record(now, steps: texts, events: events, refused: refused.isEmpty ? nil : refused.joined(separator: "; "))
            if index >= steps.count, now >= start.addingTimeInterval(lastStep.seconds), engine.nextDeadline(after: now) == nil {
                break
            }
        }
        let pending = index < steps.count || engine.nextDeadline(after: now) != nil
        return SimulationReport(regions: order, start: start, rows: rows, truncated: pending)
    }
}

extension FailoverEngine {
    /// A simulation starts from a running daemon's view: decisions are allowed at once.
    mutating func assumeWarm() { self.warm = true }
}
