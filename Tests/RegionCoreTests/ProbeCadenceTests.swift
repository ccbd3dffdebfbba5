import RegionCore
import Testing

private func abs(_ duration: Duration) -> Duration { duration < .zero ? .zero - duration : duration }

@Suite("ProbeCadence")
struct ProbeCadenceTests {
    let cadence = ProbeCadence(interval: .seconds(1), jitter: 0.1)

    @Test(arguments: [(0.0, 10_000), (0.5, 10_500), (0.999, 10_999), (-1.0, 10_000), (2.0, 11_000)] as [(Double, Int)])
    func firstProbesSpreadOverOneInterval(fraction: Double, expectedMs: Int) {
        #expect(self.cadence.first(after: .seconds(10), fraction: fraction) == .milliseconds(expectedMs))
    }

    /// (due, ended, spread) -> next due, in ms.
    @Test(arguments: [
        (0, 40, 0.0, 1_000),  // on time: one interval after the last due time, not after it ended
        (0, 40, 1.0, 1_100),  // jitter moves it by up to 10% either way
        (0, 40, -1.0, 900),
        (0, 40, 5.0, 1_100),  // spread is clamped
        (0, 900, -1.0, 900),  // due exactly as the last one ended
        (0, 950, -1.0, 1_900),  // never before the last probe ended: the next slot of the grid
        (0, 3_500, 0.0, 4_000),  // slots missed while it ran long are skipped, not replayed
        (0, 4_000, 0.0, 4_000),
        (0, 4_001, 0.0, 5_000),
    ] as [(Int, Int, Double, Int)])
    func nextDueTime(due: Int, ended: Int, spread: Double, expected: Int) {
        let next = self.cadence.next(after: .milliseconds(due), endedAt: .milliseconds(ended), spread: spread)
        // Durations scaled by a Double are exact to well under a microsecond, not to the attosecond.
        #expect(abs(next - .milliseconds(expected)) < .microseconds(1), "\(next)")
        #expect(next >= .milliseconds(ended))
    }

    /// Timers go to the nearest 5 ms slot: at most 2.5 ms early or late.
    @Test(arguments: [
        (10_000_000, 10_000_000),  // on the grid
        (10_002_400, 10_000_000),  // just under half a slot: back
        (10_002_500, 10_005_000),  // half a slot: forward
        (10_004_999, 10_005_000),
        (1, 0),
        (8_640_000_002_500, 8_640_000_005_000),  // after 100 days of uptime
    ] as [(Int64, Int64)])
    func timersFireOnAFiveMillisecondGrid(dueMicroseconds: Int64, expectedMicroseconds: Int64) {
        let fire = ProbeCadence.timer(for: .microseconds(dueMicroseconds), slot: .milliseconds(5))
        #expect(fire == .microseconds(expectedMicroseconds))
    }

    @Test func aZeroSlotKeepsTheDueTime() {
        #expect(ProbeCadence.timer(for: .microseconds(10_002_400), slot: .zero) == .microseconds(10_002_400))
    }

    @Test func latenessIsNeverNegative() {
        #expect(ProbeCadence.lateness(due: .milliseconds(100), startedAt: .milliseconds(130)) == .milliseconds(30))
        #expect(ProbeCadence.lateness(due: .milliseconds(100), startedAt: .milliseconds(90)) == .zero)
    }

    @Test func jitterIsClampedToOneInterval() {
        #expect(ProbeCadence(interval: .seconds(1), jitter: 3).jitter == 1)
        #expect(ProbeCadence(interval: .seconds(1), jitter: -1).jitter == 0)
    }

    /// The reference SplitMix64 sequence for seed 0 (as in Vigna's splitmix64.c).
    @Test func jitterRandomIsSplitMix64() {
        var random = JitterRandom(seed: 0)
        #expect([random.next(), random.next(), random.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var spread = JitterRandom(seed: 42)
        let draws = (0..<10_000).map { _ in spread.spread() }
        #expect(draws.allSatisfy { (-1..<1).contains($0) })
        #expect(abs(draws.reduce(0, +) / Double(draws.count)) < 0.05, "centred")
        // Both halves and both ends of the band are reached.
        #expect(draws.filter { $0 < -0.9 }.count > 300 && draws.filter { $0 > 0.9 }.count > 300)
    }
}
