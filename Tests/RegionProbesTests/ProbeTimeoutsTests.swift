import NIOCore
import RegionCore
import Testing

@testable import RegionProbes

/// ``ProbeTimeouts``: a FIFO per distinct timeout, a heap for the rest, and the loop's
/// probe deadlines come out soonest first whichever holds them.
@Suite("Probe timeouts")
struct ProbeTimeoutsTests {
    /// Probes started one after another, each with one of `timeouts` (milliseconds), in
    /// a shuffled order: every deadline comes out, each at or after the one before.
    @Test(arguments: [
        [900],
        [100, 900, 5000],
        [900, 900, 100],
        Array(1...20).map { $0 * 50 },  // more distinct timeouts than queues: the rest share the heap
    ])
    func deadlinesComeOutSoonestFirst(timeouts: [Int]) {
        var random = JitterRandom(seed: 42)
        var queue = ProbeTimeouts()
        var pushed: [UInt64] = []
        var start: UInt64 = 1_000_000_000
        for id in 0..<500 {
            start += UInt64.random(in: 0...2_000_000, using: &random)
            let timeout = UInt64(timeouts.randomElement(using: &random)!) * 1_000_000
            queue.push(.init(deadline: start + timeout, id: UInt64(id)), timeout: timeout)
            pushed.append(start + timeout)
        }
        #expect(queue.first == pushed.min())
        var popped: [UInt64] = []
        // Due in steps, as the loop's turns take them.
        var now = start
        while !queue.isEmpty {
            now += 7_000_000
            while let entry = queue.popDue(now: now) {
                #expect(entry.deadline <= now)
                popped.append(entry.deadline)
            }
        }
        #expect(popped == pushed.sorted())
    }

    @Test func nothingComesOutBeforeItIsDue() {
        var queue = ProbeTimeouts()
        queue.push(.init(deadline: 500, id: 1), timeout: 400)
        queue.push(.init(deadline: 300, id: 2), timeout: 200)
        #expect(queue.popDue(now: 299) == nil)
        #expect(queue.popDue(now: 300)?.id == 2)
        #expect(queue.popDue(now: 499) == nil)
        #expect(queue.first == 500)
        #expect(queue.popDue(now: 1_000)?.id == 1)
        #expect(queue.isEmpty)
    }

    /// A deadline earlier than the last of its timeout's queue (the clock stepped back)
    /// goes to the heap, so it still comes out first.
    @Test func aDeadlineOutOfOrderStillComesOutFirst() {
        var queue = ProbeTimeouts()
        queue.push(.init(deadline: 1_000, id: 1), timeout: 900)
        queue.push(.init(deadline: 950, id: 2), timeout: 900)
        #expect(queue.first == 950)
        #expect(queue.popDue(now: 2_000)?.id == 2)
        #expect(queue.popDue(now: 2_000)?.id == 1)
    }
}
