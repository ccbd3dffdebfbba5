/// A ``ProbeLoop``'s deadlines (its timers, its probes' timeouts, its listeners'
/// timers), soonest first: a binary min-heap.
///
/// Entries are not removed when what they time ends early: the loop pops them when they
/// are due and drops those whose `id` no longer names anything waiting.
struct DeadlineHeap<ID> {
    struct Entry {
        /// Uptime in nanoseconds (`NIODeadline.uptimeNanoseconds`).
        var deadline: UInt64
        var id: ID
    }

    private(set) var entries: [Entry] = []

    var isEmpty: Bool { self.entries.isEmpty }
    var first: Entry? { self.entries.first }

    mutating func push(_ entry: Entry) {
        self.entries.append(entry)
        var child = self.entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.entries[child].deadline < self.entries[parent].deadline else { break }
            self.entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the soonest entry if it is due at `now`.
    mutating func popDue(now: UInt64) -> Entry? {
        guard let top = self.entries.first, top.deadline <= now else { return nil }
        let last = self.entries.removeLast()
        if !self.entries.isEmpty {
            self.entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < self.entries.count, self.entries[left].deadline < self.entries[smallest].deadline { smallest = left }
                if right < self.entries.count, self.entries[right].deadline < self.entries[smallest].deadline { smallest = right }
                guard smallest != parent else { break }
                self.entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
