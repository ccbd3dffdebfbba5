import RegionCore

extension AsyncStream<Event>.Iterator {
    /// The next event that is not a routine `plan_applied` (targets report every plan they take).
    mutating func nextNotice() async -> Event? {
        while let event = await self.next() {
            if event.kind != .planApplied { return event }
        }
        return nil
    }

    /// The next event of `kind`.
    mutating func next(_ kind: EventKind) async -> Event? {
        while let event = await self.next() {
            if event.kind == kind { return event }
        }
        return nil
    }
}
