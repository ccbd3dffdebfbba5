import RegionCore
import Testing

@Suite("HAProxyWeights")
struct HAProxyWeightsTests {
    static let servers = [HAProxyServer(region: "eu", server: "eu1"), HAProxyServer(region: "us", server: "us1"), HAProxyServer(region: "ap", server: "ap1")]

    /// Plan weights (total 10000) -> HAProxy weights (0...256).
    @Test(arguments: [
        ([6000, 4000, 0], [154, 102, 0]),  // 153.6 and 102.4 round
        ([0, 10_000, 0], [0, 256, 0]),  // everything on one region
        ([1, 9_999, 0], [1, 256, 0]),  // a sliver of traffic never rounds to a drain
        ([3334, 3333, 3333], [85, 85, 85]),
        ([0, 0, 0], [0, 0, 0]),
    ] as [([Int], [Int])])
    func planSharesScaleTo256(plan: [Int], expected: [Int]) {
        let traffic = TrafficPlan(weights: ["eu": plan[0], "us": plan[1], "ap": plan[2]], total: 10_000)
        let weights = HAProxyWeights.weights(for: traffic, servers: Self.servers)
        #expect(weights.map(\.server) == ["eu1", "us1", "ap1"])
        #expect(weights.map(\.weight) == expected)
    }

    @Test func commandsGoInOneLine() {
        let traffic = TrafficPlan(weights: ["eu": 0, "us": 10_000], total: 10_000)
        let servers = Array(Self.servers.prefix(2))
        #expect(HAProxyWeights.commands(for: traffic, backend: "app", servers: servers) == "set weight app/eu1 0; set weight app/us1 256")
    }

    @Test func aRegionMissingFromThePlanGetsNothing() {
        let traffic = TrafficPlan(weights: ["us": 10_000], total: 10_000)
        #expect(HAProxyWeights.weights(for: traffic, servers: Self.servers).map(\.weight) == [0, 256, 0])
    }
}
