import Foundation
import Testing

@testable import RegionCore

/// The cluster's rules as tables: the quorum over observers, when a leader may decide,
/// the key layout, and the `[cluster]` section.
@Suite("cluster rules: fleet view, leader lease, keys, [cluster]")
struct ClusterRulesTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ s: Double) -> Date { Self.t0.addingTimeInterval(s) }

    static let healthy = RegionSignal(status: .healthy, passing: true, capacity: 1)
    static let unhealthy = RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)
    static let degradedFiring = RegionSignal(status: .degraded, passing: false, trigger: .latency, capacity: 0.6)
    static let degradedQuiet = RegionSignal(status: .degraded, passing: false, capacity: 0.8)
    static let unknown = RegionSignal(status: .unknown, passing: false)

    /// An observer heard `age` seconds before t0, seeing region `r` as `signal`.
    static func observer(_ name: String, _ signal: RegionSignal?, age: Double = 0, evaluating: Bool = true) -> ObserverReport {
        ObserverReport(
            name: name, heardAt: Self.at(-age), evaluating: evaluating,
            observations: signal.map { ["r": Observation(signal: $0, at: Self.at(-age))] } ?? [:])
    }

    struct FleetCase: Sendable, CustomTestStringConvertible {
        var why: String
        var quorum: ClusterSettings.Quorum
        var observers: [ObserverReport]
        var status: RegionStatus
        var failing: Bool
        var passing: Bool
        var counted: Int
        var testDescription: String { self.why }
    }

    @Test(arguments: [
        FleetCase(why: "all three see it healthy", quorum: .majority,
                  observers: [observer("a", healthy), observer("b", healthy), observer("c", healthy)], status: .healthy, failing: false, passing: true, counted: 3),
        FleetCase(why: "one broken path: one of three sees it failing, nothing moves", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", healthy), observer("c", healthy)], status: .healthy, failing: false, passing: true, counted: 3),
        FleetCase(why: "two of three: the majority fails it over", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", unhealthy), observer("c", healthy)], status: .unhealthy, failing: true, passing: false, counted: 3),
        FleetCase(why: "one sees it healthy but cannot hide what the others agree on", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", unhealthy), observer("c", healthy)], status: .unhealthy, failing: true, passing: false, counted: 3),
        FleetCase(why: "a stale observer is absent, not healthy: one of the two live ones is not a majority", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", healthy, age: 10), observer("c", healthy)], status: .healthy, failing: false, passing: true, counted: 2),
        FleetCase(why: "stale healthy observers do not outvote live failing ones, but while their leases live two of four are no majority", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", unhealthy), observer("c", healthy, age: 10), observer("d", healthy, age: 10)],
                  status: .unknown, failing: false, passing: false, counted: 2),
        FleetCase(why: "after an etcd outage the others' heartbeats are stale for a moment: one fresh view is no majority", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", healthy, age: 4), observer("c", healthy, age: 4)],
                  status: .unknown, failing: false, passing: false, counted: 1),
        FleetCase(why: "once their leases expired (no heartbeat key), the one left decides", quorum: .majority,
                  observers: [observer("a", unhealthy)], status: .unhealthy, failing: true, passing: false, counted: 1),
        FleetCase(why: "an observer that holds its statuses (starved) does not count", quorum: .majority,
                  observers: [observer("a", unhealthy, evaluating: false), observer("b", unhealthy), observer("c", healthy)], status: .healthy, failing: false, passing: true, counted: 2),
        FleetCase(why: "nobody observes it: unknown", quorum: .majority, observers: [observer("a", nil), observer("b", unknown)],
                  status: .unknown, failing: false, passing: false, counted: 0),
        FleetCase(why: "at start-up, one observer's first view is not a quorum of one while two more are live", quorum: .majority,
                  observers: [observer("a", degradedFiring), observer("b", unknown), observer("c", nil)], status: .unknown, failing: false, passing: false, counted: 1),
        FleetCase(why: "two live observers of three with a view: the majority is of the three", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", healthy), observer("c", unknown)], status: .healthy, failing: false, passing: true, counted: 2),
        FleetCase(why: "fixed quorum 2 with one live observer: unknown, never failed over", quorum: .count(2),
                  observers: [observer("a", unhealthy), observer("b", unhealthy, age: 10)], status: .unknown, failing: false, passing: false, counted: 1),
        FleetCase(why: "fixed quorum 1: any observer fails it over (Route 53's style of low bar)", quorum: .count(1),
                  observers: [observer("a", unhealthy), observer("b", healthy), observer("c", healthy)], status: .unhealthy, failing: true, passing: false, counted: 3),
        FleetCase(why: "degraded with a trigger on two counts as failing", quorum: .majority,
                  observers: [observer("a", degradedFiring), observer("b", degradedFiring), observer("c", healthy)], status: .degraded, failing: true, passing: false, counted: 3),
        FleetCase(why: "one unhealthy and one degraded without a trigger: degraded, not failing", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", degradedQuiet), observer("c", healthy)], status: .degraded, failing: false, passing: false, counted: 3),
        FleetCase(why: "failing on two with mixed statuses: the quorum is failing even when the 2nd-worst status alone would not be", quorum: .majority,
                  observers: [observer("a", unhealthy), observer("b", degradedFiring), observer("c", healthy)], status: .degraded, failing: true, passing: false, counted: 3),
    ])
    func theFleetViewTakesTheQuorum(_ c: FleetCase) {
        let view = FleetView(quorum: c.quorum, staleAfter: .seconds(3))
        let judged = view.judge(region: "r", reports: c.observers, now: Self.t0)
        #expect(judged.signal.status == c.status)
        #expect(judged.signal.failing == c.failing)
        #expect(judged.signal.passing == c.passing)
        #expect(judged.observers.count == c.counted)
    }

    @Test func fleetNumbersAreTheMedianOfWhatObserversReported() {
        let view = FleetView(quorum: .majority, staleAfter: .seconds(3))
        let signals = [0.2, 0.9, 0.5].map { RegionSignal(status: .healthy, passing: true, capacity: $0, lag: $0 * 10) }
        let reports = signals.enumerated().map { Self.observer("o\($0.offset)", $0.element) }
        let judged = view.judge(region: "r", reports: reports, now: Self.t0)
        #expect(judged.signal.capacity == 0.5)
        #expect(judged.signal.lag == 5)
        #expect(judged.failing.isEmpty)
        // The trigger the failing observers agree on most.
        let mixed = [
            Self.observer("a", RegionSignal(status: .unhealthy, passing: false, trigger: .timeout)),
            Self.observer("b", RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate)),
            Self.observer("c", RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate)),
        ]
        #expect(view.judge(region: "r", reports: mixed, now: Self.t0).signal.trigger == .errorRate)
    }

    /// (event, seconds after t0) in order; whether the leader may decide at each step.
    @Test(arguments: [
        ("elected after a renewal: may decide until ttl - timeout after it", [("renew", 0.0), ("elect", 0.1), ("check", 2.9)], [true]),
        ("the margin: not within one request's time of expiry", [("renew", 0.0), ("elect", 0.1), ("check", 3.0)], [false]),
        ("a renewal moves the end", [("renew", 0.0), ("elect", 0.1), ("renew", 2.0), ("check", 4.5)], [true]),
        ("a failed renewal ends leadership at once, whatever the time", [("renew", 0.0), ("elect", 0.1), ("fail", 0.5), ("check", 0.6)], [false]),
        ("deposed (fence refused)", [("renew", 0.0), ("elect", 0.1), ("depose", 0.2), ("check", 0.3)], [false]),
        ("not elected: never", [("renew", 0.0), ("check", 0.1)], [false]),
        ("an older renewal confirmed late does not move the end back", [("renew", 2.0), ("renew", 1.0), ("elect", 2.1), ("check", 4.9)], [true]),
    ] as [(String, [(String, Double)], [Bool])])
    func theLeaderDecidesOnlyWhileItsLeaseCannotLapse(_ why: String, _ steps: [(String, Double)], _ expected: [Bool]) {
        var lease = LeaderLease(ttl: .seconds(4), requestTimeout: .seconds(1))
        var seen: [Bool] = []
        for (step, second) in steps {
            switch step {
            case "renew": lease.renewed(sentAt: Self.at(second))
            case "elect": lease.elected(.init(key: "/p/leader/1", revision: 7))
            case "fail": lease.renewalFailed()
            case "depose": lease.deposed()
            default: seen.append(lease.mayDecide(now: Self.at(second)))
            }
        }
        #expect(seen == expected, "\(why)")
    }

    @Test(arguments: [
        ("/regiond/state", ClusterKeys.Kind.state),
        ("/regiond/leader/694d7a2f", .leader),
        ("/regiond/observers/obs-1", .observer("obs-1")),
        ("/regiond/observations/eu-west/obs-1", .observation(region: "eu-west", observer: "obs-1")),
        ("/regiond/observations/eu-west", .other),
        ("/regiond/observations//obs-1", .other),
        ("/regiond/observers/", .other),
        ("/regiond-other/state", .other),
        ("/regiond/state/x", .other),
    ])
    func keysAreReadBack(_ key: String, _ kind: ClusterKeys.Kind) {
        let keys = ClusterKeys(prefix: "/regiond/")
        #expect(keys.kind(of: key) == kind)
        #expect(keys.kind(of: keys.observation(region: "a", observer: "b")) == .observation(region: "a", observer: "b"))
    }

    static let regions = "\n[[region]]\nid = \"eu\"\nweight = 1\n  [[region.endpoint]]\n  url = \"http://127.0.0.1:1/\"\n"

    @Test func aClusterSectionTakesItsDefaultsFromTheTTL() throws {
        let config = try ConfigLoader.parse("[cluster]\netcd = [\"http://127.0.0.1:2379\", \"https://[::1]:2379/\"]\nname = \"obs-1\"\nlease_ttl = \"5s\"\nquorum = 2\n" + Self.regions, file: "t.toml")
        let cluster = try #require(config.cluster)
        #expect(cluster.etcd.count == 2)
        #expect(cluster.name == "obs-1")
        #expect(cluster.renewInterval == .seconds(1))
        #expect(cluster.requestTimeout == .seconds(1))
        #expect(cluster.staleAfter == .seconds(3))
        #expect(cluster.quorum == .count(2))
        #expect(cluster.hook == .leader)
        #expect(try ConfigLoader.parse(Self.regions, file: "t.toml").cluster == nil)
    }

    @Test(arguments: [
        ("lease_ttl = \"4s\"\nrenew_interval = \"2s\"\nrequest_timeout = \"1500ms\"", "cluster.lease_ttl", "must not exceed lease_ttl"),
        ("stale_after = \"500ms\"\nrenew_interval = \"1s\"", "cluster.lease_ttl", "stale_after"),
        ("quorum = \"most\"", "cluster.quorum", "\"majority\" or a number"),
        ("quorum = 0", "cluster.quorum", "\"majority\" or a number"),
        ("name = \"a/b\"", "cluster.name", "may only use"),
        ("hook = \"sometimes\"", "cluster.hook", "leader, every"),
        ("cert_file = \"/c.pem\"", "cluster.key_file", "go together"),
        ("prefix = \"regiond\"", "cluster.prefix", "must start with '/'"),
        ("lease_ttl = \"1s\"", "cluster.lease_ttl", "out of range"),
    ])
    func badClusterSettingsAreRefusedWithTheKey(_ extra: String, _ key: String, _ message: String) {
        let text = "[cluster]\netcd = [\"http://127.0.0.1:2379\"]\n\(extra)\n" + Self.regions
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(text, file: "t.toml") }
        do {
            _ = try ConfigLoader.parse(text, file: "t.toml")
        } catch {
            #expect(error.issues.contains { $0.key == key && $0.message.contains(message) }, "\(error.issues)")
        }
    }

    @Test(arguments: ["10.0.0.1:2379", "http://10.0.0.1", "http://10.0.0.1:2379/v3", "ftp://x:1", "http://:2379"])
    func etcdURLsMustBeClientURLs(_ url: String) {
        #expect(ConfigLoader.etcdURLProblem(url) != nil)
        #expect(ConfigLoader.etcdURLProblem("http://10.0.0.1:2379") == nil)
    }
}

/// Late writes: a peer's write that timed out at its sender can be applied by etcd after a
/// newer one (found by `make chaos`); it must never replace the newer value.
@Suite("cluster rules: a late write never replaces a newer one")
struct PeerWriteTests {
    static func at(_ s: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + s) }

    @Test(arguments: [
        ("nothing held yet: taken", PeerWrite(createRevision: 5, at: at(1)), nil as PeerWrite?, true),
        ("newer, same key incarnation: taken", PeerWrite(createRevision: 5, at: at(2)), PeerWrite(createRevision: 5, at: at(1)), true),
        ("the same write again (a watch that started over): taken", PeerWrite(createRevision: 5, at: at(1)), PeerWrite(createRevision: 5, at: at(1)), true),
        ("older, landed late: ignored", PeerWrite(createRevision: 5, at: at(1)), PeerWrite(createRevision: 5, at: at(2)), false),
        ("a new incarnation (a restarted peer's new lease) whatever its clock: taken", PeerWrite(createRevision: 9, at: at(0)), PeerWrite(createRevision: 5, at: at(2)), true),
        ("an older incarnation: ignored", PeerWrite(createRevision: 4, at: at(9)), PeerWrite(createRevision: 5, at: at(2)), false),
    ])
    func aWriteReplacesOnlyWhatIsOlder(_ why: String, _ write: PeerWrite, _ held: PeerWrite?, _ taken: Bool) {
        #expect(write.supersedes(held) == taken, "\(why)")
    }
}
