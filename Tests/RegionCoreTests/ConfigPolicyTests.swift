import Foundation
import Testing

@testable import RegionCore

/// `[region.failover]`, residency, the lag guard, the trigger rule and check-config's
/// warnings.
@Suite("Config: failover policy keys")
struct ConfigPolicyTests {
    static let policy = """
        [failover]
        strategy = "automatic"
        drain_timeout = "45s"

        [[region]]
        id = "eu-west"
        weight = 5000
        failover_to = ["eu-central"]
        max_lag = "30s"
          [region.failover]
          strategy = "graceful"
          cooldown = "5m"
          trigger_error_rate = "20%"
          [[region.endpoint]]
          url = "http://eu-west.example/healthz"
          lag_header = "X-Replication-Lag"
          timeout = "8s"
          interval = "2s"

        [[region]]
        id = "eu-central"
        weight = 3000
        labels = { jurisdiction = "eu" }
        failover_within = "jurisdiction"
          [[region.endpoint]]
          exec = ["/usr/local/bin/check"]
          lag_from_stdout = true

        [[region]]
        id = "eu-north"
        weight = 1000
        labels = { jurisdiction = "eu" }
          [[region.endpoint]]
          url = "http://eu-north.example/healthz"
          lag_json = "replication.lag"

        [[region]]
        id = "us-east"
        weight = 1000
          [[region.endpoint]]
          tcp = "us-east.example:443"
        """

    @Test func everyPolicyKeyLoads() throws {
        let config = try ConfigLoader.parse(Self.policy, file: "regiond.toml")
        #expect(config.failover.drainTimeout == .seconds(45))
        let eu = try #require(config.region("eu-west"))
        #expect(eu.failover.strategy == .graceful)
        #expect(eu.failover.cooldown == .seconds(300))
        #expect(eu.failover.triggers.errorRate == 0.20)
        #expect(eu.failover.triggers.capacity == FailoverTriggers().capacity, "the rest comes from [failover]")
        #expect(eu.failover.maxLag == .seconds(30))
        #expect(eu.endpoints[0].timeout == .seconds(8), "a timeout may be longer than the interval")
        #expect(config.allowedTargets(of: eu) == ["eu-central"])
        #expect(config.allowedTargets(of: try #require(config.region("eu-central"))) == ["eu-north"])
        #expect(config.allowedTargets(of: try #require(config.region("us-east"))) == nil)
        #expect(config.region("eu-central")?.failover.strategy == nil)
        guard case .http(let http) = eu.endpoints[0].check, case .exec(let exec) = config.region("eu-central")?.endpoints[0].check,
            case .http(let north) = config.region("eu-north")?.endpoints[0].check
        else {
            Issue.record("endpoint kinds")
            return
        }
        #expect(http.lagHeader == "X-Replication-Lag")
        #expect(exec.lagFromStdout)
        #expect(north.lagJSONField == "replication.lag")
        #expect(config.failover.suspectFraction == 0.5, "a lone instance suspects itself when more than half fail")
        #expect(config.failover.suspectWindow == config.status.window, "within one status window")
    }

    /// The documented example: a web tier of which two must pass, and a critical database.
    @Test func requireAndCriticalLoad() throws {
        let text = """
            [[region]]
            id = "eu"
            weight = 1
            require = 2
              [[region.endpoint]]
              name = "web-1"
              url = "http://10.0.0.1/healthz"
              [[region.endpoint]]
              name = "web-2"
              url = "http://10.0.0.2/healthz"
              [[region.endpoint]]
              name = "web-3"
              url = "http://10.0.0.3/healthz"
              [[region.endpoint]]
              name = "db"
              tcp = "10.0.1.1:5432"
              critical = true

            [[region]]
            id = "us"
            weight = 1
            require = "all"
            \(Self.endpoint)
            """
        let config = try ConfigLoader.parse(text, file: "regiond.toml")
        let eu = try #require(config.region("eu")).endpointRequirement
        #expect(eu.require == .atLeast(2))
        #expect(eu.critical == ["db"])
        #expect(eu.counted == ["web-1", "web-2", "web-3"])
        #expect(eu.needed == 2)
        #expect(config.region("us")?.require == .all)
        #expect(config.region("us")?.endpointRequirement.isPooled == false)
    }

    @Test func suspectFractionLoadsAndOneHundredPercentIsNever() throws {
        let config = try ConfigLoader.parse("[failover]\nsuspect_fraction = \"100%\"\n" + Self.policy.replacingOccurrences(of: "[failover]\n", with: ""), file: "regiond.toml")
        #expect(config.failover.suspectFraction == 1)
        #expect(!SelfSuspicion(fraction: 1).tooMany(4, of: 4))
    }

    static let endpoint = "  [[region.endpoint]]\n  tcp = \"db:1\""

    @Test(arguments: [
        ("[failover]\ntrigger_error_rate = \"5%\"\n[[region]]\nid = \"a\"\nweight = 1\n\(endpoint)", "failover.trigger_error_rate", "below degraded_error_rate"),
        ("[failover]\nsuspect_fraction = \"0%\"\n[[region]]\nid = \"a\"\nweight = 1\n\(endpoint)", "failover.suspect_fraction", "out of range; use 1% to 100%"),
        ("[[region]]\nid = \"a\"\nweight = 1\nrequire = \"most\"\n\(endpoint)", "region[0].require", "expected \"all\", \"any\" or a number"),
        ("[[region]]\nid = \"a\"\nweight = 1\nrequire = 2\n\(endpoint)", "region[0].require", "2 is out of range: this region has 1 endpoint that is not critical"),
        ("[[region]]\nid = \"a\"\nweight = 1\nrequire = 0\n\(endpoint)", "region[0].require", "use 1 to 1"),
        ("[[region]]\nid = \"a\"\nweight = 1\nrequire = \"any\"\n\(endpoint)\n  critical = true", "region[0].require", "every endpoint of this region is critical"),
        ("[[region]]\nid = \"a\"\nweight = 1\n\(endpoint)\n  critical = \"yes\"", "region[0].endpoint[0].critical", "expected true or false"),
        ("[failover]\ntrigger_capacity = \"90%\"\n[[region]]\nid = \"a\"\nweight = 1\n\(endpoint)", "failover.trigger_capacity", "above degraded_capacity"),
        ("[failover]\ntrigger_latency = \"500ms\"\n[[region]]\nid = \"a\"\nweight = 1\n\(endpoint)", "failover.trigger_latency", "below degraded_latency"),
        (
            "[[region]]\nid = \"a\"\nweight = 1\n  [region.failover]\n  trigger_error_rate = \"1%\"\n\(endpoint)", "region[0].failover.trigger_error_rate",
            "this region's trigger_error_rate 1%"
        ),
        ("[[region]]\nid = \"a\"\nweight = 1\n  [region.failover]\n  strategy = \"fast\"\n\(endpoint)", "region[0].failover.strategy", "not one of automatic"),
        ("[[region]]\nid = \"a\"\nweight = 1\nmax_lag = \"30s\"\n\(endpoint)", "region[0].max_lag", "no endpoint of this region reports a lag"),
        ("[[region]]\nid = \"a\"\nweight = 1\nfailover_to = []\n\(endpoint)", "region[0].failover_to", "list at least one region"),
        ("[[region]]\nid = \"a\"\nweight = 1\nfailover_to = [\"a\"]\n\(endpoint)", "region", "failover_to names the region itself"),
        ("[[region]]\nid = \"a\"\nweight = 1\nfailover_to = [\"mars\"]\n\(endpoint)", "region", "'mars', which is not a configured region"),
        ("[[region]]\nid = \"a\"\nweight = 1\nfailover_within = \"country\"\n\(endpoint)", "region", "has no label country"),
        (
            "[[region]]\nid = \"a\"\nweight = 1\n  [[region.endpoint]]\n  url = \"http://a/\"\n  lag_header = \"X\"\n  lag_json = \"lag\"", "region[0].endpoint[0].lag_json",
            "not both"
        ),
    ])
    func badPolicyNamesTheKey(_ text: String, _ key: String, _ message: String) {
        do {
            _ = try ConfigLoader.parse(text, file: "regiond.toml")
            Issue.record("expected an error for \(key)")
        } catch {
            #expect(error.issues.contains { $0.key == key && $0.message.contains(message) }, "got: \(error.description)")
        }
    }

    @Test func aTriggerLeftAtItsDefaultIsNotAnError() throws {
        // degraded_error_rate above the default trigger: the default is not what anyone wrote.
        let config = try ConfigLoader.parse("[status]\ndegraded_error_rate = \"30%\"\nunhealthy_error_rate = \"60%\"\n[[region]]\nid = \"a\"\nweight = 1\n\(Self.endpoint)", file: "f")
        #expect(config.failover.triggers.errorRate == 0.10)
    }

    @Test func checkConfigWarnsAboutRulesThatCannotFire() throws {
        let text = """
            [probe]
            timeout = "2s"
            [[region]]
            id = "a"
            weight = 1
            failover_to = ["b"]
            \(Self.endpoint)
            [[region]]
            id = "b"
            weight = 1
            failover_within = "jurisdiction"
            labels = { jurisdiction = "us" }
            \(Self.endpoint)
            """
        let config = try ConfigLoader.parse(text, file: "f")
        let warnings = ConfigAdvice.warnings(config, file: "f").map(\.message)
        #expect(warnings.contains { $0.contains("never fails over for latency") && $0.contains("5s") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("no other region is allowed to take this region's traffic") }, "\(warnings)")
        #expect(ConfigAdvice.warnings(config, file: "f").contains { $0.key == "region b: failover_to" })
        // With long enough timeouts, the latency warning goes away.
        let long = try ConfigLoader.parse(text.replacingOccurrences(of: "timeout = \"2s\"", with: "timeout = \"6s\""), file: "f")
        #expect(!ConfigAdvice.warnings(long, file: "f").map(\.message).contains { $0.contains("latency") })
    }

    /// A shared default that is wrong for every region is one warning, not one per
    /// region (1,000 regions used to log 2,000 lines at every start and reload).
    @Test func theSameAdviceForManyRegionsIsSaidOnce() throws {
        var text = "[probe]\ntimeout = \"900ms\"\n"
        for region in 0..<5 { text += "[[region]]\nid = \"r\(region)\"\nweight = 1\n\(Self.endpoint.replacingOccurrences(of: "  timeout = \"2s\"\n", with: ""))\n" }
        let warnings = ConfigAdvice.warnings(try ConfigLoader.parse(text, file: "f"), file: "f")
        #expect(warnings.map(\.key) == ["regions r0, r1, r2 and 2 more: degraded_latency", "regions r0, r1, r2 and 2 more: trigger_latency"], "\(warnings)")
        #expect(warnings.allSatisfy { $0.line == 3 }, "at the first region's [[region]] line: \(warnings)")
    }

    /// A hung endpoint yields one result per timeout. With a 3 s window, a 2 s timeout
    /// and min_samples 3, a region whose endpoint hangs could never be judged (found when
    /// a sanitizer run scaled a test's timeout up: the region stayed healthy).
    @Test(arguments: [
        ("window = \"3s\"\nmin_samples = 3", "2s", true),
        ("window = \"6s\"\nmin_samples = 3", "2s", false),  // three results of 2 s fit
        ("window = \"3s\"\nmin_samples = 1", "2s", false),
    ])
    func aWindowTooShortForAHungEndpointIsSaid(status: String, timeout: String, warned: Bool) throws {
        let text = "[status]\n\(status)\n[[region]]\nid = \"a\"\nweight = 1\n  [[region.endpoint]]\n  tcp = \"db:1\"\n  timeout = \"\(timeout)\"\n"
        let warnings = ConfigAdvice.warnings(try ConfigLoader.parse(text, file: "f"), file: "f")
        #expect(warnings.contains { $0.key == "region a: window" && $0.message.contains("if every endpoint hangs") } == warned, "\(warnings)")
    }
}
