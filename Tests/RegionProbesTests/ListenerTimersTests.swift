import RegionCore
import Testing

@testable import RegionProbes

/// ``ListenerTimers``: buckets sorted by deadline. Each turn takes every timer due,
/// soonest deadline first and, within one deadline, in the order they were set.
@Suite("Listener timers")
struct ListenerTimersTests {
    final class Nobody: ProbeListener {
        func probeDue(_ tag: UInt64) {}
        func probeEnded(_ tag: UInt64, _ completion: ProbeCompletion) {}
    }

    /// Timers set on a 10 ms grid (as monitors set them) or on any nanosecond, in random
    /// order, some already due, taken as a loop takes them between setting more.
    @Test(arguments: [10_000_000 as UInt64, 1])
    func eachTurnTakesWhatIsDueInOrder(grid: UInt64) {
        let nobody = Nobody()
        var random = JitterRandom(seed: 7)
        var timers = ListenerTimers()
        var deadlines: [UInt64] = []  // by tag: tags are given in the order timers are set
        var taken: Set<UInt64> = []
        var now: UInt64 = 1_000_000_000
        for turn in 0..<70 {
            if turn < 40 {
                for _ in 0..<50 {
                    let deadline = (now - 20_000_000 + UInt64.random(in: 0...1_100_000_000, using: &random)) / grid * grid
                    timers.add(ProbeLoop.ListenerTimer(listener: nobody, tag: UInt64(deadlines.count)), at: deadline)
                    deadlines.append(deadline)
                }
            }
            now += 50_000_000
            var due: [ProbeLoop.ListenerTimer] = []
            timers.takeDue(now: now, into: &due)
            let keys = due.map { (deadlines[Int($0.tag)], $0.tag) }
            #expect(keys.allSatisfy { $0.0 <= now })
            #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 }, "by deadline, then as set")
            #expect(timers.first.map { $0 > now } ?? true, "nothing due left behind")
            for timer in due { #expect(taken.insert(timer.tag).inserted, "taken once") }
        }
        #expect(timers.first == nil)
        #expect(taken.count == deadlines.count)
    }
}
