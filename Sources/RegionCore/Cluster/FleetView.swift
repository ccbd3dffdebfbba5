import FoundationEssentials

/// One observer's evaluation of one region, as it publishes it in etcd.
public struct Observation: Sendable, Equatable, Codable {
    public var signal: RegionSignal
    /// The observer's own clock when it evaluated (shown to operators, never compared
    /// across machines: freshness is judged by when the heartbeat was last heard).
    public var at: Date

    public init(signal: RegionSignal, at: Date) {
        self.signal = signal
        self.at = at
    }
}

/// What this instance knows of one observer: when it last heard its heartbeat (on
/// this instance's clock), whether that observer's own evaluations were on time, and
/// its latest observation of each region.
public struct ObserverReport: Sendable, Equatable {
    public var name: String
    public var heardAt: Date
    /// False while the observer holds its statuses (starved) or its evaluations are late.
    public var evaluating: Bool
    public var observations: [String: Observation]

    public init(name: String, heardAt: Date, evaluating: Bool = true, observations: [String: Observation] = [:]) {
        self.name = name
        self.heardAt = heardAt
        self.evaluating = evaluating
        self.observations = observations
    }
}

/// The fleet's judgement of one region.
public struct FleetRegion: Sendable, Equatable, Codable {
    /// The signal the leader's failover engine gets. Status `unknown` when fewer
    /// observers than the quorum see the region.
    public var signal: RegionSignal
    /// Observers whose view of the region counted (live, on time, not `unknown`).
    public var observers: [String]
    /// Those of them that see it failing.
    public var failing: [String]
    /// How many must agree.
    public var required: Int

    public init(signal: RegionSignal, observers: [String], failing: [String], required: Int) {
        self.signal = signal
        self.observers = observers
        self.failing = failing
        self.required = required
    }
}

/// The quorum rule: turns every observer's view into one signal per region.
///
/// - An observer counts for a region only while its heartbeat is fresher than
///   `staleAfter`, its evaluations are on time, and its view is not `unknown`. A
///   silent or starved observer is absent, never healthy.
/// - The region is failing when at least `required` of the counted observers see it
///   failing. Its status is the `required`-th worst status seen, so one observer with
///   a broken path to the region cannot make it unhealthy, and one that sees it
///   healthy cannot hide a failure the others agree on; `passing` likewise needs fewer
///   than `required` non-passing views. Capacity and lag are the median.
/// - `required` is the quorum of every observer the cluster holds (its heartbeat's lease
///   alive), fresh or not, with a view of the region or not: one observer's first samples
///   are never a quorum of one while others warm up, and a moment of stale heartbeats
///   after an etcd outage does not shrink the quorum. It shrinks when a dead observer's
///   lease expires (`lease_ttl`).
/// - Fewer counted observers than `required`: `unknown`, which never fails a region over
///   (and on which no decision is made at all, ``DecisionMaker/standstill``).
public struct FleetView: Sendable, Equatable {
    public var quorum: ClusterSettings.Quorum
    public var staleAfter: Duration

    public init(quorum: ClusterSettings.Quorum, staleAfter: Duration) {
        self.quorum = quorum
        self.staleAfter = staleAfter
    }

    /// Whether `report` counts at `now` (fresh and evaluating).
    public func isLive(_ report: ObserverReport, now: Date) -> Bool {
        report.evaluating && now.timeIntervalSince(report.heardAt) < self.staleAfter.seconds
    }

    public func judge(region: String, reports: [ObserverReport], now: Date) -> FleetRegion {
        let views = reports.filter { self.isLive($0, now: now) }
            .compactMap { report in report.observations[region].map { (report.name, $0.signal) } }
            .filter { $0.1.status != .unknown }
            .sorted { $0.0 < $1.0 }
        // The quorum is of every observer the cluster holds (its lease alive), not of those
        // with a fresh view: at start one observer's first samples are not a quorum of one
        // while the others warm up, and after etcd was away every heartbeat is stale for a
        // moment, which says nothing about the observers. It shrinks when a lease expires.
        let required = max(1, self.quorum.required(live: reports.count))
        let names = views.map(\.0)
        let failing = views.filter { $0.1.failing }.map(\.0)
        guard views.count >= required else {
            return FleetRegion(signal: RegionSignal(status: .unknown, passing: false), observers: names, failing: failing, required: required)
        }
        // What a peer says is checked like any outside number: capacity is a fraction, lag a
        // finite number of seconds; anything else counts as not reported.
        let signals = views.map { view in
            var signal = view.1
            signal.capacity = signal.capacity.flatMap { $0.isFinite ? min(1, max(0, $0)) : nil }
            signal.lag = signal.lag.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil }
            return signal
        }
        // The required-th worst: at least `required` observers see it at least this bad.
        let status = signals.map(\.status).sorted { $0.severity > $1.severity }[required - 1]
        let notPassing = signals.filter { !$0.passing }.count
        let isFailing = failing.count >= required
        // The trigger the failing observers agree on most (ties: by name, for stable history).
        let trigger: Trigger? =
            isFailing
            ? Self.mostCommon(signals.filter(\.failing).map(\.firedTrigger))
            : (status == .degraded ? Self.mostCommon(signals.compactMap(\.trigger)) : nil)
        var signal = RegionSignal(
            status: status, passing: notPassing < required, trigger: trigger,
            capacity: Self.median(signals.map { $0.capacity ?? 1 }), lag: Self.median(signals.compactMap(\.lag)))
        // A quorum failing with a trigger on a merely degraded status must still read as failing.
        if isFailing && !signal.failing { signal.status = .unhealthy }
        if !isFailing && signal.failing { signal.trigger = nil }
        return FleetRegion(signal: signal, observers: names, failing: failing, required: required)
    }

    static func mostCommon(_ triggers: [Trigger]) -> Trigger? {
        var counts: [Trigger: Int] = [:]
        for trigger in triggers { counts[trigger, default: 0] += 1 }
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key.rawValue > b.key.rawValue }?.key
    }

    /// The lower median: a value some observer actually reported.
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        return values.sorted()[(values.count - 1) / 2]
    }
}
