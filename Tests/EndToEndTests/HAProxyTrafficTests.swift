import Foundation
import RegionCore
import Synchronization
import Testing

/// Real requests through a real HAProxy while regiond moves traffic: the observed shares
/// follow the plan, and a drained region stays drained across reloads and restarts.
@Suite("traffic through HAProxy", .serialized)
struct HAProxyTrafficTests {
    static let regions = ["eu-west", "us-east", "ap-south"]

    /// regiond in front of `backends`, applying plans to each of `haproxies`. Under a
    /// sanitizer regiond probes less often (`testSlowdown`), so that with the load and two
    /// balancers on two cores it is not starved into holding its statuses.
    static func config(backends: RegionBackends, haproxies: [BalancedHAProxy], failover: String, extra: String = "") -> String {
        var text = """
            [daemon]
            control_socket = "@SOCKET@"
            state_directory = "@DIR@"

            [probe]
            interval = "\(100 * testSlowdown)ms"
            timeout = "2s"
            jitter = 0

            [status]
            window = "\(testSlowdown)s"
            evaluation_interval = "\(100 * testSlowdown)ms"
            min_samples = 2
            rise = 2
            fall = 2

            [failover]
            cooldown = "0s"
            recovery_window = "1s"
            failback_ramp = "0s"
            \(failover)

            \(extra)

            """
        for (index, haproxy) in haproxies.enumerated() {
            text += "[[haproxy]]\nname = \"lb\(index + 1)\"\nsocket = \"\(haproxy.socket)\"\nbackend = \"app\"\nreapply_interval = \"1h\"\nwatch_interval = \"200ms\"\n"
            if let stateFile = haproxy.stateFile { text += "state_file = \"\(stateFile)\"\n" }
        }
        for (region, weight) in zip(Self.regions, [5000, 3000, 2000]) {
            text += "\n[[region]]\nid = \"\(region)\"\nweight = \(weight)\n  [[region.endpoint]]\n  url = \"http://127.0.0.1:\(backends.port(region))/healthz\"\n"
        }
        return text
    }

    /// Counts requests until `count` have been served, then compares each region's share
    /// with the plan regiond reports (HAProxy's weights are the plan scaled to 256).
    static func expectSharesFollowThePlan(_ daemon: RunningDaemon, _ backends: RegionBackends, _ phase: String, count: Int = 600) async throws {
        let plan = try await traffic(daemon)
        backends.reset()
        try await backends.waitForTotal(count)
        let shares = backends.shares
        for row in plan.regions {
            let planned = Double(row.weight) / Double(plan.total)
            let seen = shares[row.region] ?? 0
            #expect(abs(seen - planned) <= 0.02, "\(phase): \(row.region) got \(percent(seen)) of the requests, the plan gives it \(percent(planned))")
        }
    }

    /// Waits until the targets have taken the plan of the decision just seen: one
    /// `plan_applied` event per HAProxy with a generation above `after`.
    @discardableResult
    static func waitForApplied(_ watch: ControlConnection, target: String, after generation: Int) async throws -> Int {
        try await Self.waitForApplied(watch, targets: [target], after: generation)
    }

    /// The same for several targets, in whatever order they take the plan.
    @discardableResult
    static func waitForApplied(_ watch: ControlConnection, targets: Set<String>, after generation: Int) async throws -> Int {
        var waiting = targets
        var newest = generation
        while !waiting.isEmpty {
            let line = try await watch.readLine(containing: #""kind":"plan_applied""#)
            let event = try ControlProtocol.decoder().decode(WatchLine.self, from: Data(line.utf8)).event
            guard let target = event.fields["actuator"], waiting.contains(target), let applied = Int(event.fields["generation"] ?? ""), applied > generation else { continue }
            waiting.remove(target)
            newest = max(newest, applied)
        }
        return newest
    }

    @Test(.timeLimit(.minutes(3 * testSlowdown)))
    func sharesFollowThePlanAndADrainedRegionStaysDrainedAcrossReloadsAndRestarts() async throws {
        try await trafficScenario(
            regions: Self.regions, balancers: 1, withStateFile: true,
            config: { Self.config(backends: $0, haproxies: $1, failover: "strategy = \"automatic\"") }
        ) { daemon, backends, haproxies, load in
            let haproxy = haproxies[0]
            try await daemon.notify.wait(for: "STATUS=3 regions: 3 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            try await Self.expectSharesFollowThePlan(daemon, backends, "baseline")

            // eu-west fails: its share moves, and HAProxy follows.
            backends.setFailing("eu-west", true)
            _ = try await watch.readLine(containingAll: [#""kind":"failover_started""#, #""region":"eu-west""#])
            var generation = try await Self.waitForApplied(watch, target: "haproxy:lb1", after: 1)
            try await Self.expectSharesFollowThePlan(daemon, backends, "after the failover")
            #expect(try await haproxy.weight("eu-west") == "0 (initial 100)")

            // A reload (-sf) and a hard restart: the new process loads the committed weights
            // from the server-state file regiond wrote, so the drained region gets nothing.
            for what in ["reload", "restart"] {
                backends.reset()
                if what == "reload" { try await haproxy.reload() } else { try await haproxy.restart() }
                try await backends.waitForTotal(600)
                #expect(backends.served["eu-west", default: 0] == 0, "\(what): the drained region got \(backends.served["eu-west", default: 0]) of \(backends.served.values.reduce(0, +)) requests")
                #expect(try await haproxy.weight("eu-west") == "0 (initial 100)", "after the \(what)")
                try await Self.expectSharesFollowThePlan(daemon, backends, "after the \(what)")
            }

            // eu-west mends: after its recovery window, traffic comes back.
            backends.setFailing("eu-west", false)
            _ = try await watch.readLine(containingAll: [#""kind":"failback_completed""#, #""region":"eu-west""#])
            generation = try await Self.waitForApplied(watch, target: "haproxy:lb1", after: generation)
            try await Self.expectSharesFollowThePlan(daemon, backends, "after failback")
            #expect(load.answered.load(ordering: .relaxed) > 3000)
            await watch.close()
        }
    }

    /// A gradual move: at each step HAProxy carries the step's plan.
    @Test(.timeLimit(.minutes(2 * testSlowdown)))
    func aGradualStepIsWhatTheTrafficSees() async throws {
        let failover = "strategy = \"gradual\"\ngradual_step = \"50%\"\ngradual_interval = \"1h\""
        try await trafficScenario(
            regions: Self.regions, balancers: 1, withStateFile: false, config: { Self.config(backends: $0, haproxies: $1, failover: failover) }
        ) { daemon, backends, _, _ in
            try await daemon.notify.wait(for: "STATUS=3 regions: 3 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            backends.setFailing("eu-west", true)
            _ = try await watch.readLine(containingAll: [#""kind":"failover_started""#, #""region":"eu-west""#])
            try await Self.waitForApplied(watch, target: "haproxy:lb1", after: 1)
            // The first step keeps half of eu-west's share; the next is an hour away.
            #expect(try await traffic(daemon).regions.first { $0.region == "eu-west" }?.weight == 2500)
            try await Self.expectSharesFollowThePlan(daemon, backends, "during a gradual step")
            await watch.close()
        }
    }

    /// The graceful strategy with a live session: eu-west's weight goes to 0 at once, but
    /// the move is complete only when HAProxy reports no session left on it (here: one
    /// long request), not at the drain timeout (1 h).
    @Test(.timeLimit(.minutes(2 * testSlowdown)))
    func gracefulWaitsForTheLastLiveSession() async throws {
        let failover = "strategy = \"graceful\"\ndrain_timeout = \"1h\""
        try await trafficScenario(
            regions: Self.regions, balancers: 1, withStateFile: false, config: { Self.config(backends: $0, haproxies: $1, failover: failover) }
        ) { daemon, backends, haproxies, _ in
            let lb = haproxies[0]
            try await daemon.notify.wait(for: "STATUS=3 regions: 3 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()

            // Open long sessions through HAProxy until one lands on eu-west; end the others.
            var arrivals = backends.holds.makeAsyncIterator()
            var session: Task<String, any Error>?
            for _ in 0..<40 where session == nil {
                let request = Task { try await heldRequest(port: lb.port) }
                let region = try #require(await arrivals.next())
                if region == "eu-west" { session = request } else { backends.release(region) }
            }
            let live = try #require(session, "no long request reached eu-west")
            #expect(try await lb.currentSessions("eu-west") ?? 0 >= 1)

            backends.setFailing("eu-west", true)
            let started = try await watch.readLine(containingAll: [#""kind":"failover_started""#, #""region":"eu-west""#])
            #expect(started.contains(#""strategy":"graceful""#), "\(started)")
            try await Self.waitForApplied(watch, target: "haproxy:lb1", after: 1)
            // New traffic has left; the session has not, so the move is not complete.
            #expect(try await lb.weight("eu-west").hasPrefix("0 "))
            #expect(try await lb.currentSessions("eu-west") ?? 0 >= 1)
            let draining = try row(try await traffic(daemon), "eu-west")
            #expect(draining.phase == "draining")
            #expect(draining.weight == 0)
            #expect(try await history(daemon).contains { $0.kind == .failoverCompleted } == false)

            // The session ends (answered by eu-west itself, not cut by HAProxy).
            backends.release("eu-west")
            let answer = try await live.value
            #expect(answer.hasPrefix("HTTP/1.1 200") && answer.hasSuffix("eu-west"), "\(answer)")
            let completed = try await watch.readLine(containingAll: [#""kind":"failover_completed""#, #""region":"eu-west""#])
            #expect(completed.contains(#""drained":"sessions""#), "\(completed)")
            #expect(try row(try await traffic(daemon), "eu-west").phase == "failed_over")
            backends.release()
            await watch.close()
        }
    }

    /// Without a state file a reloaded HAProxy starts from its config's weights; the watch
    /// notices the new process and puts the plan back, after which the drained region gets
    /// nothing again. Two load balancers: one stopped and started again gets the plan back
    /// from the watch, the other keeps it throughout, and each is its own target.
    @Test(.timeLimit(.minutes(2 * testSlowdown)))
    func theWatchPutsThePlanBackOnEveryLoadBalancer() async throws {
        try await trafficScenario(
            regions: Self.regions, balancers: 2, withStateFile: false,
            config: { Self.config(backends: $0, haproxies: $1, failover: "strategy = \"automatic\"") }
        ) { daemon, backends, haproxies, _ in
            let (first, second) = (haproxies[0], haproxies[1])
            try await daemon.notify.wait(for: "STATUS=3 regions: 3 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            backends.setFailing("eu-west", true)
            _ = try await watch.readLine(containingAll: [#""kind":"failover_started""#, #""region":"eu-west""#])
            try await Self.waitForApplied(watch, targets: ["haproxy:lb1", "haproxy:lb2"], after: 1)

            // Reload lb1 without a state file: its new process has the config's weights until
            // the watch sees the new pid and applies the plan again.
            try await first.reload()
            let reapplied = try await watch.readLine(containingAll: [#""kind":"plan_applied""#, #""actuator":"haproxy:lb1""#, "restarted or reloaded"])
            #expect(reapplied.contains("pid"))
            // Requests the new process sent on before the plan reached it may still be
            // finishing: let a first batch through, then count.
            backends.reset()
            try await backends.waitForTotal(100)
            backends.reset()
            try await backends.waitForTotal(400)
            #expect(backends.served["eu-west", default: 0] == 0, "after the watch put the plan back, eu-west still got requests")

            // lb2 goes away: its own alarm; lb1 keeps the plan.
            await second.kill()
            _ = try await watch.readLine(containingAll: [#""kind":"actuator_failed""#, #""actuator":"haproxy:lb2""#])
            _ = try await daemon.notify.wait(for: "PLAN NOT APPLIED to haproxy:lb2")
            #expect(try await first.weight("eu-west") == "0 (initial 100)")
            let shown = try await daemon.regionctl(["traffic"])
            #expect(shown.stdout.contains("haproxy:lb1 ok") && shown.stdout.contains("haproxy:lb2 FAILING"), "\(shown.stdout)")
            // It comes back: the watch gives it the plan, and the alarm clears.
            try await second.startAgain()
            _ = try await watch.readLine(containingAll: [#""kind":"actuator_recovered""#, #""actuator":"haproxy:lb2""#])
            #expect(try await second.weight("eu-west") == "0 (initial 100)")
            await watch.close()
        }
    }
}
