import NIOCore
import RegionCore
import RegionProbes

/// One endpoint's probing state, kept by its region's monitor.
struct EndpointRuntime {
    var config: EndpointConfig
    var prepared: Prober.Prepared
    var cadence: ProbeCadence
    /// Bumped when the endpoint is (re)started, so that a late timer or result of the
    /// old schedule is ignored (it carries the old generation in its tag).
    var generation: Int
    /// When the next probe is due, or the running one was (monotonic uptime).
    var due: Duration = .zero
    /// When the running probe started.
    var startedAt: Duration = .zero
    /// A probe of this schedule is in the air.
    var running = false
    var last: ProbeResult?
    var probes: UInt64 = 0
    var consecutiveFailures = 0
    var tally = ProbeTally()

    init(config: EndpointConfig, prepared: Prober.Prepared, cadence: ProbeCadence, generation: Int) {
        self.config = config
        self.prepared = prepared
        self.cadence = cadence
        self.generation = generation
    }

    /// Records a probe's result; returns when the next probe is due.
    mutating func finished(with result: ProbeResult, counted: Bool, end: Duration, spread: Double) -> Duration {
        self.running = false
        self.last = result
        self.probes += 1
        self.tally.record(result)
        if counted { self.consecutiveFailures = result.passed ? 0 : self.consecutiveFailures + 1 }
        return self.cadence.next(after: self.due, endedAt: end, spread: spread)
    }
}

/// A monitor's endpoints, by name and by slot. A probe's timer and its end carry a tag,
/// `slot | generation << 32`, so that finding the endpoint again is an array index and a
/// comparison, not a hash of its name (this is on every probe's path).
struct EndpointTable {
    /// Slots of removed endpoints are nil until reused.
    private(set) var slots: [EndpointRuntime?] = []
    private var byName: [String: Int] = [:]
    private var free: [Int] = []

    var names: Dictionary<String, Int>.Keys { self.byName.keys }

    func slot(of name: String) -> Int? { self.byName[name] }

    subscript(name: String) -> EndpointRuntime? {
        get { self.byName[name].flatMap { self.slots[$0] } }
        set {
            if let slot = self.byName[name] {
                self.slots[slot] = newValue
                if newValue == nil {
                    self.byName[name] = nil
                    self.free.append(slot)
                }
            } else if let newValue {
                let slot = self.free.popLast() ?? self.slots.count
                if slot == self.slots.count { self.slots.append(nil) }
                self.slots[slot] = newValue
                self.byName[name] = slot
            }
        }
    }

    /// Changes the runtime in `slot` in place (it must hold one).
    mutating func update<T>(_ slot: Int, _ body: (inout EndpointRuntime) -> T) -> T {
        body(&self.slots[slot]!)
    }

    /// Fills in the probing part of the endpoint's report, reading its runtime in place.
    func fill(_ report: inout EndpointReport) {
        guard let slot = self.byName[report.name], self.slots[slot] != nil else { return }
        report.probes = self.slots[slot]?.probes ?? 0
        report.consecutiveFailures = self.slots[slot]?.consecutiveFailures ?? 0
        report.last = self.slots[slot]?.last
        report.tally = self.slots[slot]?.tally
    }

    static func tag(slot: Int, generation: Int) -> UInt64 {
        UInt64(truncatingIfNeeded: slot) & 0xFFFF_FFFF | UInt64(UInt32(truncatingIfNeeded: generation)) << 32
    }

    /// The slot `tag` names, if that endpoint's schedule is still the one it was made for.
    func current(_ tag: UInt64) -> Int? {
        let slot = Int(tag & 0xFFFF_FFFF)
        guard slot < self.slots.count, let generation = self.slots[slot]?.generation,
            UInt32(truncatingIfNeeded: generation) == UInt32(truncatingIfNeeded: tag >> 32)
        else { return nil }
        return slot
    }
}
