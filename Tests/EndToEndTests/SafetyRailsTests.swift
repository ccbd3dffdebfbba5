import Foundation
import RegionCore
import Testing

/// Issue 26's safety rails in a running regiond with real probes.
@Suite("safety rails end to end")
struct SafetyRailsEndToEndTests {
    /// `drain --for`: the end is committed, survives kill -9, and brings the traffic back
    /// with `maintenance_ended`.
    @Test func aDrainWithAnEndSurvivesKillDashNineAndEndsByItself() async throws {
        try await failoverScenario("cooldown = \"0s\"\nfailback_ramp = \"0s\"") { daemon, _ in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let drain = try await daemon.regionctl(["drain", "eu-west", "--for", "3s", "--reason", "CHG-1234"])
            #expect(drain.status == 0, "\(drain.stderr)")
            #expect(drain.stdout.contains("drain ends"), "\(drain.stdout)")
            #expect(drain.stdout.contains("drain by uid 0: CHG-1234"), "\(drain.stdout)")
            let before = try row(try await traffic(daemon), "eu-west")
            #expect(before.weight == 0)
            let end = try #require(before.maintenance?.end)

            daemon.signal(SIGKILL)
            _ = try await daemon.waitForExit()
            let again = try await daemon.restart()
            try await again.notify.wait(for: "READY=1")
            // Subscribe first, then look back: the end may have come while it restarted.
            let watch = try await ControlConnection.open(again.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            if try await !history(again).contains(where: { $0.kind == .maintenanceEnded }) {
                _ = try await watch.readLine(containing: #""kind":"maintenance_ended""#)
            }
            await watch.close()
            let ended = try #require(try await history(again).last { $0.kind == .maintenanceEnded })
            #expect(ended.time >= end, "it ended at its committed time, not before")
            guard case .maintenanceEnded(let note) = ended.payload else {
                Issue.record("not a maintenance_ended: \(ended)")
                return
            }
            #expect(note.reason == "CHG-1234" && note.until == end)
            let after = try row(try await traffic(again), "eu-west")
            #expect(after.maintenance == nil)
            #expect(after.admin == "enabled")
            #expect(after.weight == 6000, "\(after)")
            await again.cleanUp()
        }
    }

    /// `disable --at +1s --for 1s`: nothing happens before it begins (checked by the event's
    /// time, not by asking in time, so a slow machine cannot fail it); it begins and ends
    /// with an event each.
    @Test func aScheduledWindowBeginsAndEndsOnItsOwn() async throws {
        try await failoverScenario("cooldown = \"0s\"\nfailback_ramp = \"0s\"") { daemon, _ in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            let schedule = try await daemon.regionctl(["disable", "us-east", "--at", "+1s", "--for", "1s", "--reason", "rack power"])
            #expect(schedule.status == 0, "\(schedule.stderr)")
            let window = try #require(try row(try await traffic(daemon), "us-east").maintenance)
            #expect(window.action == .disable && window.reason == "rack power", "\(window)")
            let started = try await watch.readLine(containing: #""kind":"maintenance_started""#)
            #expect(started.contains(#""plan":"eu-west=10000 us-east=0""#), "\(started)")
            let ended = try await watch.readLine(containing: #""kind":"maintenance_ended""#)
            #expect(ended.contains(#""plan":"eu-west=6000 us-east=4000""#), "\(ended)")
            await watch.close()
            let began = try #require(try await history(daemon).first { $0.kind == .maintenanceStarted })
            #expect(began.time >= window.start, "it began at \(began.time), before its start \(window.start)")
            let bad = try await daemon.regionctl(["drain", "eu-west", "--at", "noon"])
            #expect(bad.status == 64, "a time regionctl cannot read is a usage error")
            #expect(bad.stderr.contains("HH:MM"), "\(bad.stderr)")
        }
    }
}

/// Three regions on switchable targets; `edit` changes the `[failover]` section.
func threeRegionConfig(_ ports: [Int], failover: String) -> String {
    var text = failoverConfig(eu: ports[0], us: ports[1], failover: failover)
    text += """


        [[region]]
        id = "ap-south"
        tier = "secondary"
        weight = 2000
          [[region.endpoint]]
          url = "http://127.0.0.1:\(ports[2])/healthz"
        """
    return text
}

@Suite("a lone observer that suspects itself, end to end")
struct ObserverSuspectEndToEndTests {
    /// Two of three regions fail at once: regiond holds the failover, says why once (crit),
    /// and moves traffic only after `regionctl confirm`. They fail from the start (a host
    /// that boots with a broken route): no decision is made before every region's status is
    /// known, so the two are seen together whatever the machine's speed.
    @Test func twoOfThreeFailingAtOnceWaitForConfirm() async throws {
        let targets = [try await SwitchableTarget.start(), try await SwitchableTarget.start(), try await SwitchableTarget.start()]
        targets[0].set(.error)
        targets[1].set(.error)
        let daemon = try await RunningDaemon.start(config: threeRegionConfig(targets.map(\.port), failover: "cooldown = \"0s\"\nfailback_ramp = \"0s\""))
        do {
            try await daemon.notify.wait(for: "READY=1")
            let weight = try row(try await traffic(daemon), "eu-west").weight
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            if try await !history(daemon).contains(where: { $0.kind == .observerSuspect }) {
                _ = try await watch.readLine(containing: #""kind":"observer_suspect""#)
            }
            let suspect = try #require(try await history(daemon).first { $0.kind == .observerSuspect })
            #expect(suspect.message.contains("of 3 regions (") && suspect.message.contains("eu-west, us-east)"), "\(suspect.message)")
            let status = try await daemon.regionctl(["status"])
            #expect(status.stdout.contains("OBSERVER SUSPECT"), "\(status.stdout)")
            #expect(try await history(daemon).allSatisfy { $0.kind != .failoverStarted }, "nothing moved while suspect")
            #expect(try row(try await traffic(daemon), "eu-west").weight == weight)
            #expect(weight > 0)

            let confirm = try await daemon.regionctl(["confirm", "--reason", "eu and us are down, seen from the office"])
            #expect(confirm.status == 0, "\(confirm.stderr)")
            _ = try await watch.readLine(containing: #""kind":"observer_suspect_cleared""#)
            let moved = try await watch.readLine(containing: #""kind":"failover_started""#)
            #expect(moved.contains("ap-south"), "\(moved)")
            await watch.close()
            let events = try await history(daemon)
            #expect(events.filter { $0.kind == .observerSuspect }.count == 1, "raised once")
            let again = try await daemon.regionctl(["confirm", "--reason", "twice"])
            #expect(again.status == 1, "nothing left to confirm: \(again.stderr)")
            #expect(again.stderr.contains("does not suspect itself"), "\(again.stderr)")
        } catch {
            print("regiond stderr:\n\(daemon.stderr)")
            await daemon.cleanUp()
            for target in targets { await target.stop() }
            throw error
        }
        await daemon.cleanUp()
        for target in targets { await target.stop() }
    }
}

@Suite("endpoints that combine, end to end")
struct EndpointRequirementEndToEndTests {
    /// eu-west: `web` (switchable), `web-2` (steady) and a critical `db`, with
    /// `require = "all"`. A failing db alone fails the region over, named in the reason;
    /// later one failing web endpoint makes it unhealthy, where the pool alone would only
    /// call 1 failing of 3 degraded.
    @Test func aCriticalDatabaseAndRequireAllNameTheEndpoint() async throws {
        let db = try await SwitchableTarget.start()
        let web2 = try await SwitchableTarget.start()
        let edit = { (text: String) -> String in
            let marker = "tier = \"primary\"\nweight = 6000\n"
            return text.replacingOccurrences(of: marker, with: marker + "require = \"all\"\n")
                .replacingOccurrences(
                    of: "\n\n[[region]]\nid = \"us-east\"",
                    with: """

                          [[region.endpoint]]
                          name = "web-2"
                          url = "http://127.0.0.1:\(web2.port)/healthz"
                          [[region.endpoint]]
                          name = "db"
                          url = "http://127.0.0.1:\(db.port)/healthz"
                          critical = true

                        [[region]]
                        id = "us-east"
                        """)
        }
        do {
            try await Self.run(edit: edit, db: db)
        } catch {
            await db.stop()
            await web2.stop()
            throw error
        }
        await db.stop()
        await web2.stop()
    }

    static func run(edit: @escaping (String) -> String, db: SwitchableTarget) async throws {
        try await failoverScenario("cooldown = \"0s\"\nfailback_ramp = \"0s\"", edit: edit) { daemon, web in
            try await daemon.notify.wait(for: "READY=1")
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()

            db.set(.error)
            let unhealthy = try await watch.readLine(containing: #""status":"unhealthy""#)
            #expect(unhealthy.contains("critical endpoint db is failing (status)"), "\(unhealthy)")
            let moved = try await watch.readLine(containing: #""kind":"failover_started""#)
            #expect(moved.contains("eu-west"), "\(moved)")
            let region = try await daemon.regionctl(["region", "eu-west"])
            #expect(region.stdout.contains("critical endpoint db is failing"), "\(region.stdout)")
            #expect(region.stdout.contains("db (critical)"), "\(region.stdout)")
            #expect(region.stdout.contains("unhealthy if fewer endpoints pass than require = all or a critical endpoint fails"), "\(region.stdout)")

            db.set(.ok)
            _ = try await watch.readLine(containing: #""status":"healthy""#)
            web.set(.error)
            let counted = try await watch.readLine(containing: #""status":"unhealthy""#)
            #expect(counted.contains("1 of 2 endpoints passing, 2 required (require = all); failing: 127.0.0.1:\(web.port) (status)"), "\(counted)")
            await watch.close()
        }
    }
}
