import FoundationEssentials

/// When an operator's `drain` or `disable` happens and how long it lasts:
/// `regionctl drain eu --at 02:00 --for 1h`.
public struct MaintenanceWindow: Sendable, Equatable {
    /// When it begins; nil: at once.
    public var start: Date?
    /// How long it lasts; nil: until `enable`.
    public var length: Duration?

    public init(start: Date? = nil, length: Duration? = nil) {
        self.start = start
        self.length = length
    }

    /// A plain drain or disable: now, until `enable`.
    public static let untilEnabled = MaintenanceWindow()
    /// The longest a window may last, and how far ahead one may be scheduled.
    public static let longest: Duration = .seconds(30 * 86_400)
}

/// An operator's drain or disable that ends by itself, or begins later. Committed with the
/// engine's state, so it survives restarts and leader changes.
public struct Maintenance: Sendable, Equatable, Codable {
    public enum Action: String, Sendable, Codable {
        case drain
        case disable
    }

    public var action: Action
    /// When it begins (the command's time, when it began at once).
    public var start: Date
    /// When it ends and the region is enabled again; nil: at `enable`.
    public var end: Date?
    public var reason: String
    public var by: UInt32
    /// A scheduled window waits for `start`; one that began at once is begun.
    public var begun: Bool

    public init(action: Action, start: Date, end: Date?, reason: String, by: UInt32, begun: Bool) {
        self.action = action
        self.start = start
        self.end = end
        self.reason = reason
        self.by = by
        self.begun = begun
    }

    /// The record of a drain or disable that began now; nil when it has no end (a plain one).
    init?(_ action: Action, _ window: MaintenanceWindow, uid: UInt32, reason: String, now: Date) {
        guard let length = window.length else { return nil }
        self.init(action: action, start: now, end: now.addingTimeInterval(length.seconds), reason: reason, by: uid, begun: true)
    }

    /// The moment something is due: its start while it waits, its end once begun.
    var due: Date? { self.begun ? self.end : self.start }
}

extension FailoverEngine {
    /// A `drain` or `disable` whose window starts later: recorded, nothing moves yet. nil
    /// when it starts now. Throws when the window is out of range.
    mutating func schedule(
        _ action: Maintenance.Action, _ id: String, _ window: MaintenanceWindow, uid: UInt32, reason: String, now: Date, action note: inout OperatorAction
    ) throws(ControlError) -> String? {
        if let length = window.length, !(Duration.seconds(1)...MaintenanceWindow.longest).contains(length) {
            throw ControlError(.badRequest, "a \(action.rawValue) lasts from 1s to \(formatDuration(MaintenanceWindow.longest)); \(formatDuration(length)) is out of range")
        }
        guard let start = window.start else { return nil }
        // A minute of slack for the clocks of the client and of the instance that decides.
        guard start >= now.addingTimeInterval(-60) else {
            throw ControlError(.badRequest, "\(Self.timeText(start)) is in the past; give a time to come (or leave out --at to begin now)")
        }
        guard start > now else { return nil }
        guard start.timeIntervalSince(now) <= MaintenanceWindow.longest.seconds else {
            throw ControlError(.badRequest, "\(Self.timeText(start)) is more than \(formatDuration(MaintenanceWindow.longest)) ahead; schedule it later")
        }
        let end = window.length.map { start.addingTimeInterval($0.seconds) }
        self.state.regions[id]!.maintenance = Maintenance(action: action, start: start, end: end, reason: reason, by: uid, begun: false)
        note.from = start
        note.until = end
        return "operator scheduled a \(action.rawValue) of \(id) at \(Self.timeText(start))\(Self.untilText(end)): \(reason)"
    }

    /// Begins and ends the maintenance windows whose time has come. First in every round.
    mutating func runMaintenance(signals: [String: RegionSignal], now: Date, events: inout [Event]) {
        for region in self.regions {
            let id = region.id
            guard var window = self.state.regions[id]?.maintenance, let due = window.due, now >= due else { continue }
            if !window.begun {
                if let end = window.end, now >= end {
                    self.state.regions[id]!.maintenance = nil
                    let why = "its window ended at \(Self.timeText(end)) before it could begin (was regiond stopped?)"
                    events.append(self.event(id, "the \(window.action.rawValue) of \(id) scheduled for \(Self.timeText(window.start)) did not happen: \(why)", .maintenanceSkipped(MaintenanceNote(window, why: why)), now))
                    continue
                }
                do throws(ControlError) {
                    var note = MaintenanceNote(window)
                    switch window.action {
                    case .drain:
                        note.strategy = try self.drainRegion(id, signals: signals, now: now)
                        note.trigger = .manual
                    case .disable:
                        if try self.disableRegion(id, now: now) { note.trigger = .manual }
                    }
                    window.begun = true
                    self.state.regions[id]!.maintenance = window.end == nil ? nil : window
                    let verb = window.action == .drain ? "drained" : "disabled"
                    events.append(self.event(id, "scheduled maintenance: \(id) \(verb)\(Self.untilText(window.end)): \(window.reason)", .maintenanceStarted(note), now))
                } catch {
                    self.state.regions[id]!.maintenance = nil
                    events.append(
                        self.event(id, "the \(window.action.rawValue) of \(id) scheduled for now did not happen: \(error.message)", .maintenanceSkipped(MaintenanceNote(window, why: error.message)), now))
                }
                continue
            }
            self.state.regions[id]!.maintenance = nil
            let held: AdminState = window.action == .drain ? .drained : .disabled
            guard self.state.regions[id]!.admin == held else { continue }
            var after: [Event] = []
            let what = self.enableRegion(id, signals: signals, now: now, events: &after)
            events.append(self.event(id, "the \(window.action.rawValue) of \(id) ended\(what): \(window.reason)", .maintenanceEnded(MaintenanceNote(window)), now))
            events += after
        }
    }

    static func timeText(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }

    static func untilText(_ end: Date?) -> String { end.map { " until \(Self.timeText($0))" } ?? "" }
}
