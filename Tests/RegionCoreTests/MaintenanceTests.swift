import Foundation
import Testing

@testable import RegionCore

/// Drains and disables that expire, and maintenance windows scheduled ahead (issue 26):
/// `regionctl drain eu --for 2h`, `drain eu --at 02:00 --for 1h`.
@Suite("maintenance windows")
struct MaintenanceTests {
    static func fleet() -> Fleet {
        var fleet = Fleet(threeRegions) {
            $0.cooldown = .zero
            $0.failbackRamp = .immediate
        }
        fleet.at(0)
        return fleet
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var why: String
        var command: OperatorCommand
        /// The command is given at 10 s; then a round at each time, and eu's weight after it.
        var rounds: [(Double, Int)]
        /// The kinds of the events of every round after the command, in order.
        var kinds: [EventKind]
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        Case(
            why: "drain for 60 s: away at once, back at 70 s with maintenance_ended",
            command: .drain("eu", MaintenanceWindow(length: .seconds(60))), rounds: [(10, 0), (69, 0), (70, 5000)],
            kinds: [.maintenanceEnded, .failbackCompleted]),
        Case(
            why: "disable for 60 s: the same, for a disable",
            command: .disable("eu", MaintenanceWindow(length: .seconds(60))), rounds: [(10, 0), (70, 5000)], kinds: [.maintenanceEnded, .failbackCompleted]),
        Case(
            why: "a drain scheduled at 100 s for 50 s: nothing moves before 100 s, back at 150 s",
            command: .drain("eu", MaintenanceWindow(start: t(100), length: .seconds(50))), rounds: [(10, 5000), (99, 5000), (100, 0), (149, 0), (150, 5000)],
            kinds: [.maintenanceStarted, .maintenanceEnded, .failbackCompleted]),
        Case(
            why: "a drain scheduled at 100 s with no end: drained until enable",
            command: .drain("eu", MaintenanceWindow(start: t(100))), rounds: [(100, 0), (10_000, 0)], kinds: [.maintenanceStarted]),
        Case(
            why: "a plain drain: held until enable",
            command: .drain("eu"), rounds: [(10, 0), (100_000, 0)], kinds: []),
    ])
    func windowsBeginAndEndOnTime(_ c: Case) throws {
        var fleet = Self.fleet()
        let given = try fleet.command(c.command, at: 10)
        #expect(given.events.first?.kind == .operatorCommand)
        var kinds: [EventKind] = []
        for (time, weight) in c.rounds {
            kinds += fleet.at(time).events.map(\.kind)
            #expect(fleet.weights["eu"] == weight, "at \(time) s")
            #expect(fleet.weights.values.reduce(0, +) == 10_000)
        }
        #expect(kinds == c.kinds)
        if c.kinds.last == .failbackCompleted {
            #expect(fleet.engine.state.regions["eu"]?.admin == .enabled)
            #expect(fleet.engine.state.regions["eu"]?.maintenance == nil)
        }
    }

    /// The engine's next deadline is the window's start, then its end: the controller
    /// wakes for them with no new signal.
    @Test func theWindowIsADeadline() throws {
        var fleet = Self.fleet()
        try fleet.command(.drain("eu", MaintenanceWindow(start: t(100), length: .seconds(50))), at: 10)
        #expect(fleet.engine.nextDeadline(after: t(10)) == t(100))
        fleet.at(100)
        #expect(fleet.engine.nextDeadline(after: t(100)) == t(150))
        fleet.at(150)
        #expect(fleet.engine.nextDeadline(after: t(150)) == nil)
    }

    /// Committed with the state: a restart (the state read back from its JSON) keeps it.
    @Test func theWindowSurvivesARestart() throws {
        var fleet = Self.fleet()
        try fleet.command(.drain("eu", MaintenanceWindow(length: .seconds(60))), at: 10)
        let saved = try JSONEncoder().encode(fleet.engine.state)
        var restarted = FailoverEngine(settings: fleet.engine.settings, regions: fleet.engine.regions, state: try JSONDecoder().decode(EngineState.self, from: saved))
        #expect(restarted.state.regions["eu"]?.maintenance?.end == t(70))
        let back = restarted.step(fleet.signals, now: t(70))
        #expect(back.events.map(\.kind) == [.maintenanceEnded, .failbackCompleted])
        #expect(restarted.state.plan.weights["eu"] == 5000)
    }

    @Test func enableEndsAWindowEarlyOrCancelsOne() throws {
        var fleet = Self.fleet()
        try fleet.command(.drain("eu", MaintenanceWindow(length: .seconds(60))), at: 10)
        let early = try fleet.command(.enable("eu"), at: 20)
        #expect(early.events.first?.message.contains("its drain ends early") == true, "\(early.events.map(\.message))")
        #expect(fleet.engine.state.regions["eu"]?.maintenance == nil)
        #expect(fleet.at(70).events.isEmpty)
        try fleet.command(.disable("us", MaintenanceWindow(start: t(100), length: .seconds(10))), at: 30)
        let cancelled = try fleet.command(.enable("us"), at: 40)
        #expect(cancelled.events.first?.message.contains("scheduled for") == true)
        #expect(fleet.at(100).events.isEmpty)
        #expect(fleet.weights["us"] == 3000)
    }

    /// A new drain replaces a region's window; a plain one drops its end.
    @Test func aNewCommandReplacesTheWindow() throws {
        var fleet = Self.fleet()
        try fleet.command(.drain("eu", MaintenanceWindow(length: .seconds(60))), at: 10)
        try fleet.command(.drain("eu"), at: 20)
        #expect(fleet.engine.state.regions["eu"]?.maintenance == nil)
        #expect(fleet.at(70).events.isEmpty)
        #expect(fleet.weights["eu"] == 0)
    }

    /// A window that cannot begin says so and leaves the traffic where it is.
    @Test func aWindowThatCannotBeginIsSkippedAloud() throws {
        var fleet = Self.fleet()
        try fleet.command(.drain("eu", MaintenanceWindow(start: t(100), length: .seconds(50))), at: 10)
        let skipped = fleet.at(100, ["us": failing, "ap": failing])
        let note = try #require(skipped.events.first { $0.kind == .maintenanceSkipped })
        #expect(note.message.contains("no region can take its traffic"), "\(note.message)")
        #expect(fleet.engine.state.regions["eu"]?.maintenance == nil)
        #expect(fleet.engine.state.regions["eu"]?.admin == .enabled)
        // A window that passed whole while regiond was stopped.
        var other = Self.fleet()
        try other.command(.disable("ap", MaintenanceWindow(start: t(100), length: .seconds(50))), at: 10)
        let missed = other.at(500)
        #expect(missed.events.map(\.kind) == [.maintenanceSkipped])
        #expect(missed.events.first?.message.contains("before it could begin") == true)
        #expect(other.weights["ap"] == 2000)
    }

    /// A region whose drain ends while it is unhealthy gets its traffic back only after
    /// the recovery window, as an operator's `enable` would.
    @Test func anUnhealthyRegionAtTheEndWaitsForItsWindow() throws {
        var fleet = Self.fleet()
        try fleet.command(.drain("eu", MaintenanceWindow(length: .seconds(60))), at: 10)
        let ended = fleet.at(70, ["eu": failing])
        #expect(ended.events.first?.kind == .maintenanceEnded)
        #expect(ended.events.first?.message.contains("once it has been healthy for the recovery window") == true)
        #expect(fleet.weights["eu"] == 0)
        #expect(fleet.engine.state.regions["eu"]?.admin == .enabled)
    }

    /// A scheduled drain that moves traffic counts as a failover (analytics, metrics).
    @Test func aScheduledDrainCountsAsAFailover() throws {
        var fleet = Self.fleet()
        try fleet.command(.drain("eu", MaintenanceWindow(start: t(100))), at: 10)
        let started = try #require(fleet.at(100).events.first { $0.kind == .maintenanceStarted })
        #expect(started.payload.failover?.trigger == .manual)
    }

    @Test(arguments: [
        (MaintenanceWindow(length: .seconds(0)), "lasts from 1s"),
        (MaintenanceWindow(length: .seconds(31 * 86_400)), "lasts from 1s"),
        (MaintenanceWindow(start: t(-100)), "is in the past"),
        (MaintenanceWindow(start: t(40 * 86_400)), "ahead"),
    ])
    func windowsOutOfRangeAreRefused(_ window: MaintenanceWindow, _ message: String) {
        var fleet = Self.fleet()
        #expect {
            try fleet.command(.drain("eu", window), at: 10)
        } throws: { error in
            (error as? ControlError)?.message.contains(message) == true
        }
        #expect(fleet.engine.state.regions["eu"]?.maintenance == nil)
    }

    @Test func simulateShowsTheWindow() throws {
        let fleet = Self.fleet()
        let step = try Simulation.parse("drain eu for 1h").get()
        #expect(step.action == .command(.drain("eu", MaintenanceWindow(length: .seconds(3600)))))
        #expect(throws: ControlError.self) { try Simulation.parse("drain eu for ever").get() }
        let report = Simulation.run(engine: fleet.engine, signals: fleet.signals, steps: [step], start: t(10))
        let ended = try #require(report.rows.first { $0.events.contains { $0.kind == .maintenanceEnded } })
        #expect(ended.offset == 3600)
        #expect(ended.plan["eu"] == 5000)
        #expect(report.rows.first { !$0.steps.isEmpty }?.plan["eu"] == 0)
    }
}

/// `--at` as operators type it.
@Suite("maintenance start time")
struct StartTimeTests {
    static let utc = TimeZone(identifier: "UTC")!
    // 2027-01-15T10:30:00Z
    static let now = Date(timeIntervalSince1970: 1_800_009_000)

    @Test(arguments: [
        ("02:00", "2027-01-16T02:00:00Z"),
        ("10:45", "2027-01-15T10:45:00Z"),
        ("10:30", "2027-01-16T10:30:00Z"),
        ("+30m", "2027-01-15T11:00:00Z"),
        ("2027-02-01T00:00:00Z", "2027-02-01T00:00:00Z"),
    ])
    func readsTimes(_ text: String, _ expected: String) throws {
        let date = try StartTime.parse(text, now: Self.now, timeZone: Self.utc).get()
        #expect(date.formatted(Date.ISO8601FormatStyle()) == expected)
    }

    @Test func theTimeOfDayIsLocal() throws {
        let tokyo = TimeZone(identifier: "Asia/Tokyo")!  // 10:30Z is 19:30 there
        let date = try StartTime.parse("20:00", now: Self.now, timeZone: tokyo).get()
        #expect(date.formatted(Date.ISO8601FormatStyle()) == "2027-01-15T11:00:00Z")
    }

    @Test(arguments: ["25:00", "2:5:0", "noon", "+forever", "", "１２:００"])
    func refusesWhatIsNotATime(_ text: String) {
        #expect(throws: ControlError.self) { try StartTime.parse(text, now: Self.now, timeZone: Self.utc).get() }
    }
}

/// `drain` and `disable` over the control protocol: `ttl` and `at` read and checked.
@Suite("maintenance requests")
struct MaintenanceRequestTests {
    static func request(_ cmd: String, ttl: String? = nil, at: String? = nil) -> ControlRequest {
        var r = ControlRequest(cmd: cmd, region: "eu")
        r.ttl = ttl
        r.at = at
        return r
    }

    @Test func aWindowIsRead() throws {
        let drain = try Self.request("drain", ttl: "2h", at: "2027-01-16T02:00:00Z").operatorCommand(.drain).get()
        #expect(drain == .drain("eu", MaintenanceWindow(start: try Date("2027-01-16T02:00:00Z", strategy: .iso8601), length: .seconds(7200))))
        #expect(try Self.request("disable", ttl: "30m").operatorCommand(.disable).get() == .disable("eu", MaintenanceWindow(length: .seconds(1800))))
        #expect(try Self.request("drain").operatorCommand(.drain).get() == .drain("eu"))
    }

    @Test(arguments: [
        ("drain", "0s", nil, "ttl"),
        ("drain", "31d", nil, "ttl"),
        ("drain", "1e308h", nil, "ttl"),
        ("disable", nil, "02:00", "ISO 8601"),
        ("enable", "1h", nil, "takes no"),
    ] as [(String, String?, String?, String)])
    func aBadWindowIsABadRequest(_ cmd: String, _ ttl: String?, _ at: String?, _ message: String) {
        let result = Self.request(cmd, ttl: ttl, at: at).operatorCommand(ControlCommand(rawValue: cmd)!)
        guard case .failure(let error) = result else {
            Issue.record("accepted: \(result)")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.message.contains(message), "\(error.message)")
    }
}
