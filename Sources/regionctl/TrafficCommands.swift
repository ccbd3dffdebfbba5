import ArgumentParser
import FoundationEssentials
import Glibc
import RegionCore

struct Traffic: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The traffic plan, each region's failover phase, and why.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let report = try self.options.call(ControlRequest(cmd: "traffic"), as: TrafficReport.self) else { return }
        Format.traffic(report)
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the configuration file (needs root or the admin group).",
        discussion: "A bad file is rejected with its errors and the running configuration stays.")
    @OptionGroup var options: ClientOptions

    func run() throws {
        guard let r = try self.options.call(ControlRequest(cmd: "reload"), as: ReloadReport.self) else { return }
        func list(_ ids: [String]) -> String { ids.isEmpty ? "none" : ids.joined(separator: ", ") }
        print("configuration generation \(r.generation) applied")
        print("  added: \(list(r.added)); removed: \(list(r.removed)); updated: \(list(r.updated)); unchanged: \(r.unchanged)")
    }
}

/// Shared by the commands that change traffic: send, then print the new plan.
protocol TrafficCommand: ParsableCommand {
    var options: ClientOptions { get }
    func request() throws -> ControlRequest
}

extension TrafficCommand {
    /// A request naming one region, with the operator's reason.
    static func request(_ cmd: String, region: String, reason: String?) -> ControlRequest {
        var request = ControlRequest(cmd: cmd, region: region)
        request.reason = reason
        return request
    }

    func run() throws {
        guard let report = try self.options.call(try self.request(), as: TrafficReport.self) else { return }
        Format.traffic(report)
    }
}

struct Failover: TrafficCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a region's traffic away now (held until `enable`).",
        discussion: """
            Needs root or the admin group. Without TO, the strategy picks the targets among the \
            regions FROM's traffic may go to. A TO outside FROM's residency is refused unless \
            --override-residency is given with a --reason.
            """)
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region to move traffic away from.") var from: String
    @Argument(help: "Region to send it to.") var to: String?
    @Option(help: "automatic, gradual, cascading or graceful (default: the region's strategy).") var strategy: String?
    @Option(help: "Why; recorded in the history.") var reason: String?
    @Flag(help: "Send the traffic to TO even though FROM's residency (failover_to, failover_within) does not allow it. Needs --reason; recorded.")
    var overrideResidency = false

    func validate() throws {
        if self.overrideResidency, self.to == nil { throw ValidationError("--override-residency needs TO: the region to send the traffic to") }
        if self.overrideResidency, (self.reason ?? "").trimmingSpaces.isEmpty {
            throw ValidationError("--override-residency needs --reason: it is recorded with the move")
        }
    }

    func request() throws -> ControlRequest {
        var r = ControlRequest(cmd: "failover", region: self.from)
        r.to = self.to
        r.strategy = self.strategy
        r.reason = self.reason
        if self.overrideResidency { r.overrideResidency = true }
        return r
    }
}

struct Drain: TrafficCommand, MaintenanceCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a region's traffic away following the strategy, and hold it away.",
        discussion: """
            Needs root or the admin group. With --for the drain ends by itself and the region is \
            enabled again (its traffic returns on the failback ramp); with --at it begins later, \
            a maintenance window: regionctl drain eu --at 02:00 --for 1h --reason "CHG-1234". \
            Both are committed and survive restarts; `enable` ends or cancels them.
            """)
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region.") var region: String
    @Option(help: "Why; recorded in the history.") var reason: String?
    @Option(name: .customLong("for"), help: ArgumentHelp("How long, e.g. 2h (default: until enable).", valueName: "duration")) var length: String?
    @Option(help: ArgumentHelp("When it begins: HH:MM (the next one, local time), +30m, or an ISO 8601 time (default: now).", valueName: "time"))
    var at: String?

    func request() throws -> ControlRequest { try self.window(Self.request("drain", region: self.region, reason: self.reason)) }
}

struct Enable: TrafficCommand {
    static let configuration = CommandConfiguration(
        abstract: "Return a region to service (also approves a manual failback).",
        discussion: "A healthy region gets its traffic back now; an unhealthy one once it has been healthy for the recovery window.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region.") var region: String
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest { Self.request("enable", region: self.region, reason: self.reason) }
}

struct Disable: TrafficCommand, MaintenanceCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take all traffic from a region at once; it is never a target until enabled.",
        discussion: "Needs root or the admin group. --for and --at work as for drain: regionctl disable eu --for 30m --reason \"rack power\".")
    @OptionGroup var options: ClientOptions
    @Argument(help: "Region.") var region: String
    @Option(help: "Why; recorded in the history.") var reason: String?
    @Option(name: .customLong("for"), help: ArgumentHelp("How long, e.g. 30m (default: until enable).", valueName: "duration")) var length: String?
    @Option(help: ArgumentHelp("When it begins: HH:MM (the next one, local time), +30m, or an ISO 8601 time (default: now).", valueName: "time"))
    var at: String?

    func request() throws -> ControlRequest { try self.window(Self.request("disable", region: self.region, reason: self.reason)) }
}

/// `drain` and `disable`: how long (`--for`) and from when (`--at`).
protocol MaintenanceCommand {
    var length: String? { get }
    var at: String? { get }
}

extension MaintenanceCommand {
    /// The request with its window: `--for` as `ttl`, `--at` as an ISO 8601 time.
    func window(_ request: ControlRequest) throws -> ControlRequest {
        var r = request
        r.ttl = self.length
        if let at = self.at {
            switch StartTime.parse(at, now: Date(), timeZone: TimeZone.current) {
            case .success(let date): r.at = date.formatted(Date.ISO8601FormatStyle())
            case .failure(let error): throw ValidationError(error.message)
            }
        }
        return r
    }
}

struct SetWeights: TrafficCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-weights", abstract: "Replace every baseline weight: regionctl set-weights eu-west=6000 us-east=4000",
        discussion: """
            Name every enabled region: weights are relative (eu=1 us=2 sends a third to eu), so a \
            partial list would silently rescale the others. Each weight is a whole number from 0 \
            to 1000000; the plan is normalized to the configured total.
            """)
    @OptionGroup var options: ClientOptions
    @Argument(help: "REGION=WEIGHT pairs.") var pairs: [String]
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest {
        var weights: [String: Int] = [:]
        for pair in self.pairs {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("'\(pair)' is not REGION=WEIGHT") }
            guard let weight = Int(parts[1]), (0...FailoverRegion.maximumWeight).contains(weight) else {
                throw ValidationError("weight of \(parts[0]) is '\(parts[1])'; use a whole number from 0 to \(FailoverRegion.maximumWeight)")
            }
            weights[String(parts[0])] = weight
        }
        var r = ControlRequest(cmd: "set-weights")
        r.weights = weights
        r.reason = self.reason
        return r
    }
}

struct Pin: TrafficCommand {
    static let configuration = CommandConfiguration(abstract: "Freeze automatic failover until unpinned or the TTL passes.")
    @OptionGroup var options: ClientOptions
    @Option(help: "Why (required).") var reason: String
    @Option(help: ArgumentHelp("How long, e.g. 30m (default: until unpin).", valueName: "duration")) var ttl: String?

    func request() throws -> ControlRequest {
        var r = ControlRequest(cmd: "pin")
        r.reason = self.reason
        r.ttl = self.ttl
        return r
    }
}

struct Unpin: TrafficCommand {
    static let configuration = CommandConfiguration(abstract: "Resume automatic failover.")
    @OptionGroup var options: ClientOptions
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest {
        var r = ControlRequest(cmd: "unpin")
        r.reason = self.reason
        return r
    }
}

struct Confirm: TrafficCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say that the regions that failed at once really failed: automatic decisions resume.",
        discussion: """
            Needs root or the admin group. A regiond without [cluster] holds automatic decisions \
            when more than suspect_fraction of the regions begin failing within one status window \
            (OBSERVER SUSPECT in regionctl status): its own network is the likeliest cause. Check \
            the regions from elsewhere; if they really failed, confirm. Exit status 1 when nothing \
            is suspected.
            """)
    @OptionGroup var options: ClientOptions
    @Option(help: "Why; recorded in the history.") var reason: String?

    func request() throws -> ControlRequest {
        var r = ControlRequest(cmd: "confirm")
        r.reason = self.reason
        return r
    }
}
