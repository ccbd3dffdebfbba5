import NIOCore

/// The timeouts of a ``ProbeLoop``'s probes in flight, soonest first.
///
/// A probe's deadline is its start plus its endpoint's timeout, and starts only move
/// forward, so the deadlines of probes with one timeout arrive in order: a FIFO per
/// distinct timeout keeps them sorted with an append and a pop, where one heap of every
/// probe cost a push and a pop of about ten levels each at 1,000 probes in the air.
/// Fleets use a few timeouts; past ``maxQueues`` distinct ones, the rest share a heap.
///
/// Entries are not removed when their probe ends first: the loop pops them when they
/// are due and drops those whose `id` no longer names a probe in the air.
struct ProbeTimeouts {
    typealias Entry = DeadlineHeap<UInt64>.Entry

    /// How many distinct timeouts get a queue of their own.
    static let maxQueues = 8

    private var timeouts: [UInt64] = []
    private var queues: [CircularBuffer<Entry>] = []
    /// Timeouts past the first ``maxQueues``, and any deadline that would go backwards.
    private var overflow = DeadlineHeap<UInt64>()

    var isEmpty: Bool { self.first == nil }

    /// The soonest deadline.
    var first: UInt64? {
        var soonest = self.overflow.first?.deadline
        for queue in self.queues {
            if let head = queue.first?.deadline, head < soonest ?? .max { soonest = head }
        }
        return soonest
    }

    /// Adds the deadline of a probe that started with `timeout` nanoseconds to run.
    mutating func push(_ entry: Entry, timeout: UInt64) {
        if let index = self.timeouts.firstIndex(of: timeout) {
            // A clock that never goes back keeps each queue sorted; should it, the heap does.
            guard self.queues[index].last.map({ $0.deadline <= entry.deadline }) ?? true else { return self.overflow.push(entry) }
            self.queues[index].append(entry)
        } else if self.timeouts.count < Self.maxQueues {
            self.timeouts.append(timeout)
            var queue = CircularBuffer<Entry>(initialCapacity: 64)
            queue.append(entry)
            self.queues.append(queue)
        } else {
            self.overflow.push(entry)
        }
    }

    /// Removes and returns the soonest entry if it is due at `now`.
    mutating func popDue(now: UInt64) -> Entry? {
        var soonest: Int?
        var deadline = self.overflow.first?.deadline ?? .max
        for index in self.queues.indices {
            if let head = self.queues[index].first?.deadline, head < deadline {
                deadline = head
                soonest = index
            }
        }
        guard deadline <= now else { return nil }
        guard let soonest else { return self.overflow.popDue(now: now) }
        return self.queues[soonest].popFirst()
    }
}
