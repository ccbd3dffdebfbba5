import RegionCore
import Testing

@Suite("Loop placement")
struct LoopPlacementTests {
    /// Regions of `rate` probes a second placed one after another on `loops` loops that
    /// each take 100 before the next is used: the loop each lands on.
    @Test(arguments: [
        (1, [60.0, 60, 60], [0, 0, 0]),
        (2, [60.0, 30, 20], [0, 0, 1]),  // 60 + 30 fit; 20 more would pass 100
        (2, [60.0, 60, 60, 60], [0, 1, 0, 1]),  // both full: the least loaded
        (3, [150.0, 10, 10], [0, 1, 1]),  // one region may be more than a loop's share
        (2, [0.0, 0, 0], [0, 0, 0]),
        (2, [Double.nan, .infinity, -5, 50], [0, 0, 0, 0]),  // nonsense rates count as 0
    ])
    func regionsFillTheFirstLoopThenSpill(loops: Int, rates: [Double], expected: [Int]) {
        var placement = LoopPlacement(loops: loops, fillUpTo: 100)
        let placed = rates.enumerated().map { placement.place("r\($0.offset)", rate: $0.element) }
        #expect(placed == expected)
    }

    @Test func aRegionKeepsItsLoopAndRemovalFreesItsShare() {
        var placement = LoopPlacement(loops: 2, fillUpTo: 100)
        #expect(placement.place("a", rate: 80) == 0)
        #expect(placement.place("b", rate: 30) == 1)
        // A reload that changes a's endpoints keeps it where it is.
        #expect(placement.place("a", rate: 90) == 0)
        #expect(placement.load == [90, 30])
        placement.remove("a")
        #expect(placement.load == [0, 30])
        #expect(placement.loop(of: "a") == nil)
        #expect(placement.place("c", rate: 50) == 0)
        placement.remove("nobody")
        #expect(placement.load == [50, 30])
    }

    @Test func aRegionsRateIsItsEndpointsProbesPerSecond() {
        let region = RegionConfig(
            id: "eu", weight: 1,
            endpoints: [
                EndpointConfig(name: "a", check: .tcp(host: "127.0.0.1", port: 1), interval: .seconds(1)),
                EndpointConfig(name: "b", check: .tcp(host: "127.0.0.1", port: 1), interval: .milliseconds(250)),
            ])
        #expect(region.probesPerSecond == 5)
    }
}
