import Foundation
import NIOCore
import RegionCore
import Testing

/// Cluster mode end to end: 3 real regiond processes on a real 3-member etcd cluster
/// (docs/cluster.md has the timeline of each test).
@Suite("cluster mode on etcd", .serialized)
struct ClusterEndToEndTests {
    /// One observer's broken path moves nothing; two move traffic; a third changes nothing
    /// more. One decision is committed, and every instance records it under the same etcd
    /// revision and applies the same plan to its own HAProxy.
    @Test func aQuorumMovesTrafficOnceAndEveryInstanceAppliesIt() async throws {
        let fleet = try await ClusterFleet.start(withHAProxy: true)
        do {
            try await fleet.waitUntilSettled()
            let daemons = fleet.daemons
            let watches = try await fleet.watches()

            // Only obs1's path to eu breaks: it sees eu unhealthy, the fleet does not.
            fleet.eu[0].set(.error)
            try await awaitEvent(daemons[0], watches[0], .statusChanged) { $0.region == "eu" && $0.fields["status"] == "unhealthy" }
            for (daemon, watch) in zip(daemons, watches) {
                try await awaitEvent(daemon, watch, .fleetStatusChanged) { $0.region == "eu" && $0.fields["failing"] == "obs1" }
            }
            let seen = try await daemons[0].call("region", region: "eu", as: RegionReport.self)
            #expect(seen.brief.status == .unhealthy)
            let fleetView = try #require(seen.fleet)
            #expect(fleetView.signal.status == .healthy)
            #expect(fleetView.failing == ["obs1"] && fleetView.observers == ["obs1", "obs2", "obs3"] && fleetView.required == 2)
            let text = try await daemons[0].regionctl(["region", "eu"]).stdout
            #expect(text.contains("region eu: UNHEALTHY") && text.contains("fleet: HEALTHY by quorum"), "\(text)")

            // obs2's path breaks too: a majority, so eu fails over, once.
            let secondFault = Date()
            fleet.eu[1].set(.error)
            var started: [Event] = []
            for (daemon, watch) in zip(daemons, watches) {
                started.append(try await awaitEvent(daemon, watch, .failoverStarted) { $0.region == "eu" })
            }
            // Had one observer been enough, the decision would predate the second fault.
            #expect(started.allSatisfy { $0.time.timeIntervalSince(secondFault) > -0.05 }, "\(started.map(\.time)) vs \(secondFault)")
            let revisions = Set(started.map { $0.fields["revision"] ?? "none" })
            #expect(revisions.count == 1 && !revisions.contains("none"), "\(revisions)")
            #expect(Set(started.map { $0.fields["leader"] ?? "none" }).count == 1)

            // All three see it: nothing more to decide.
            fleet.eu[2].set(.error)
            for (daemon, watch) in zip(daemons, watches) {
                try await awaitEvent(daemon, watch, .fleetStatusChanged) { $0.region == "eu" && $0.fields["failing"] == "obs1,obs2,obs3" }
            }
            for (index, (daemon, watch)) in zip(daemons, watches).enumerated() {
                let decisions = try await history(daemon).filter { $0.kind == .failoverStarted && $0.region == "eu" }
                #expect(decisions.count == 1, "obs\(index + 1) recorded \(decisions.count) failovers of eu")
                let plan = try await traffic(daemon)
                #expect(try row(plan, "eu").weight == 0 && row(plan, "us").weight == 10_000, "obs\(index + 1)")
                // Each instance applied it to its own HAProxy.
                try await awaitEvent(daemon, watch, .planApplied) { $0.fields["actuator"] == "haproxy:lb" && $0.fields["plan"] == "eu=0 us=10000" }
                #expect(try await fleet.haproxies[index].weight("eu").hasPrefix("0 "), "obs\(index + 1)'s HAProxy")
                #expect(try await fleet.haproxies[index].weight("us").hasPrefix("256 "), "obs\(index + 1)'s HAProxy")
            }
            // A follower makes no decision of its own: an operator command is refused with the leader's name.
            let leader = try await fleet.leader()
            let follower = (leader + 1) % daemons.count
            let refused = try await daemons[follower].regionctl(["drain", "us", "--reason", "test"])
            #expect(refused.status == 75, "\(refused.stderr)")
            #expect(refused.stderr.contains("the leader is obs\(leader + 1)") && refused.stderr.contains("[not_leader]"), "\(refused.stderr)")
            for watch in watches { await watch.close() }
        } catch {
            Issue.record("\(error)\n\(fleet.logs)")
        }
        await fleet.stop()
    }
}
