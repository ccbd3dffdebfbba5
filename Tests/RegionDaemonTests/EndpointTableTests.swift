import RegionCore
import RegionProbes
import Testing

@testable import RegionDaemon

/// A region monitor finds an endpoint again from a probe's tag (`slot | generation << 32`):
/// a tag from an endpoint's old schedule, or from an endpoint since removed and its slot
/// reused, must name nothing.
@Suite("Endpoint table")
struct EndpointTableTests {
    static func runtime(_ name: String, generation: Int) -> EndpointRuntime {
        let endpoint = EndpointConfig(name: name, check: .tcp(host: "127.0.0.1", port: 9))
        return EndpointRuntime(
            config: endpoint, prepared: Prober(socketEngine: false).prepare(endpoint), cadence: ProbeCadence(interval: .seconds(1), jitter: 0),
            generation: generation)
    }

    @Test func aTagNamesItsEndpointOnlyWhileItsScheduleLasts() throws {
        var table = EndpointTable()
        table["a"] = Self.runtime("a", generation: 1)
        table["b"] = Self.runtime("b", generation: 2)
        let a = try #require(table.slot(of: "a"))
        let b = try #require(table.slot(of: "b"))
        #expect(a != b)
        let tagA = EndpointTable.tag(slot: a, generation: 1)
        #expect(table.current(tagA) == a)
        #expect(table.current(EndpointTable.tag(slot: b, generation: 2)) == b)
        // The same slot under another generation (a restarted schedule) is stale.
        #expect(table.current(EndpointTable.tag(slot: a, generation: 3)) == nil)
        // Removed, then the slot reused by a new endpoint: the old tag names nothing.
        table["a"] = nil
        #expect(table.current(tagA) == nil)
        #expect(table["a"] == nil)
        table["c"] = Self.runtime("c", generation: 4)
        #expect(table.slot(of: "c") == a)
        #expect(table.current(tagA) == nil)
        #expect(table.current(EndpointTable.tag(slot: a, generation: 4)) == a)
        #expect(Set(table.names) == ["b", "c"])
        // Slots past the table and the tick's reserved slot name nothing.
        #expect(table.current(EndpointTable.tag(slot: 7, generation: 4)) == nil)
        #expect(table.current(0xFFFF_FFFF | 4 << 32) == nil)
    }

    @Test func generationsWrapWithTheirTag() {
        var table = EndpointTable()
        let generation = Int(UInt32.max) + 5
        table["a"] = Self.runtime("a", generation: generation)
        #expect(table.current(EndpointTable.tag(slot: 0, generation: generation)) == 0)
        #expect(table.current(EndpointTable.tag(slot: 0, generation: generation - 1)) == nil)
    }
}
