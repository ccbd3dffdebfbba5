import Foundation
import Logging
import NIOCore
import RegionCore
import Synchronization

/// The one sequence of events: numbers every event, records it in the history, and hands
/// it to every sink (the log, `watch` and `/events` subscribers, metrics, `STATUS=`), all
/// in id order.
///
/// An event gets its id when it is *posted*, under a lock, so its place is fixed by
/// causality: a region's `status_changed` is posted before its signal goes to the failover
/// controller, so the decision that follows has a higher id; a decision's events are
/// delivered before the controller applies its plan, so every `plan_applied` follows them.
/// Posted work is carried out in that order by one worker: consecutive report events are
/// recorded in one transaction, a decision in its own (state and events together).
///
/// Each subscriber has its own bounded stream; a subscriber that cannot keep up loses the
/// oldest events (counted in ``droppedEvents``), never the daemon's memory.
public actor EventBus {
    private let logger: Logger
    private let bufferSize: Int
    private let history: (any EventHistory)?
    private nonisolated let intake: Mutex<Intake>
    private var subscribers: [UInt64: AsyncStream<Event>.Continuation] = [:]
    private var nextSubscriber: UInt64 = 1
    private var listeners: [@Sendable (Event) -> Void] = []
    private var finished = false
    public private(set) var droppedEvents: UInt64 = 0
    /// The most recent events, newest last (the status page, `status`, tests).
    public private(set) var recent: [Event] = []
    static let recentCount = 256
    /// The id of the last event handed to the sinks (an earlier run's count as handed).
    private var lastDelivered: UInt64

    /// What is waiting to be carried out, and the next id.
    struct Intake {
        var jobs = CircularBuffer<Job>()
        var nextID: UInt64
        var draining = false
        var retention: HistoryRetention
    }

    enum Job {
        /// Report events: recorded (when the history takes them) and delivered either way.
        case report([Event], done: CheckedContinuation<Void, Never>?)
        /// A decision: recorded with its state, then delivered; not delivered if not recorded.
        case decision(DecisionRecord, beforeDelivery: @Sendable () -> Void, done: CheckedContinuation<RecordOutcome, Never>)
        /// A subscriber that resumes after an id: what it missed, then everything new.
        case resume(after: UInt64, subscriber: UInt64, stream: AsyncStream<Event>.Continuation)
    }

    /// - Parameters:
    ///   - history: where events are recorded (nil: delivered only).
    ///   - lastEventID: the highest id recorded by an earlier run; numbering goes on above it.
    public init(
        logger: Logger, bufferSize: Int = 1024, history: (any EventHistory)? = nil, lastEventID: UInt64 = 0,
        retention: HistoryRetention = HistoryRetention(FailoverSettings())
    ) {
        self.logger = logger
        self.bufferSize = bufferSize
        self.history = history
        self.intake = Mutex(Intake(nextID: lastEventID + 1, retention: retention))
        self.lastDelivered = lastEventID
    }

    // MARK: posting (never blocks; fixes the order)

    /// Numbers report events and queues them; returns them numbered. Callable from any
    /// thread without waiting: the order is fixed here.
    @discardableResult
    public nonisolated func post(_ events: [Event]) -> [Event] {
        self.enqueue { intake in
            let numbered = Self.number(events, &intake.nextID)
            return (.report(numbered, done: nil), numbered)
        }
    }

    /// Posts report events and returns once every sink has them.
    @discardableResult
    public func publish(_ events: [Event]) async -> [Event] {
        var numbered: [Event] = []
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            numbered = self.enqueue { intake in
                let events = Self.number(events, &intake.nextID)
                return (.report(events, done: done), events)
            }
        }
        return numbered
    }

    @discardableResult
    public func publish(_ event: Event) async -> Event {
        await self.publish([event]).first ?? event
    }

    /// Records a decision (state and events in one transaction) and delivers its events.
    /// Returns once they are recorded and delivered, or why not. `beforeDelivery` runs once
    /// it is recorded, before any sink has its events (the controller shows the new plan
    /// there, so whoever sees an event and asks `traffic` sees its plan).
    public func commit(_ record: DecisionRecord, beforeDelivery: @escaping @Sendable () -> Void = {}) async -> RecordOutcome {
        await withCheckedContinuation { (done: CheckedContinuation<RecordOutcome, Never>) in
            self.enqueue { intake in
                var record = record
                record.events = Self.number(record.events, &intake.nextID)
                return (.decision(record, beforeDelivery: beforeDelivery, done: done), ())
            }
        }
    }

    /// From now on, every write drops what falls out of `retention`.
    public nonisolated func setRetention(_ retention: HistoryRetention) {
        self.intake.withLock { $0.retention = retention }
    }

    private static func number(_ events: [Event], _ next: inout UInt64) -> [Event] {
        events.map { event in
            var event = event
            event.id = next
            next += 1
            return event
        }
    }

    /// Queues a job under the lock and starts the worker if none runs.
    private nonisolated func enqueue<T>(_ make: (inout Intake) -> (Job, T)) -> T {
        let (result, start) = self.intake.withLock { intake -> (T, Bool) in
            let (job, result) = make(&intake)
            intake.jobs.append(job)
            let start = !intake.draining
            intake.draining = true
            return (result, start)
        }
        // The worker runs until the queue is empty, then ends; posting never waits for it,
        // so it needs a task of its own (at most one runs at a time).
        if start { Task { await self.drain() } }
        return result
    }

    // MARK: the worker

    private func drain() async {
        while true {
            let (jobs, retention) = self.intake.withLock { intake -> ([Job], HistoryRetention) in
                let jobs = Array(intake.jobs)
                intake.jobs.removeAll()
                if jobs.isEmpty { intake.draining = false }
                return (jobs, intake.retention)
            }
            guard !jobs.isEmpty else { return }
            var reports: [(events: [Event], done: CheckedContinuation<Void, Never>?)] = []
            for job in jobs {
                if case .report(let events, let done) = job {
                    reports.append((events, done))
                    continue
                }
                await self.flush(&reports, retention: retention)
                switch job {
                case .decision(let record, let beforeDelivery, let done):
                    done.resume(returning: await self.record(record, retention: retention, beforeDelivery: beforeDelivery))
                case .resume(let after, let subscriber, let stream):
                    await self.replay(after: after, subscriber: subscriber, stream: stream)
                case .report:
                    break
                }
            }
            await self.flush(&reports, retention: retention)
        }
    }

    /// Records the report events gathered so far in one transaction, then delivers them.
    private func flush(_ reports: inout [(events: [Event], done: CheckedContinuation<Void, Never>?)], retention: HistoryRetention) async {
        guard !reports.isEmpty else { return }
        let events = reports.flatMap(\.events)
        // history_unavailable is about the database failing: it goes to every other sink.
        let recordable = events.filter { $0.kind != .historyUnavailable }
        if let history = self.history, !recordable.isEmpty {
            do {
                try await history.append(recordable, retention: retention, now: Date())
            } catch {
                self.logger.warning("cannot record \(recordable.count) events in the history: \(error)")
            }
        }
        for event in events { self.deliver(event) }
        for report in reports { report.done?.resume() }
        reports.removeAll()
    }

    private func record(_ record: DecisionRecord, retention: HistoryRetention, beforeDelivery: @Sendable () -> Void) async -> RecordOutcome {
        guard let history = self.history else { return .failed("the state database could not be opened") }
        do {
            guard try await history.commit(record, retention: retention, now: Date()) else { return .alreadyRecorded }
        } catch {
            return .failed("\(error)")
        }
        beforeDelivery()
        for event in record.events { self.deliver(event) }
        return .recorded(record.events)
    }

    private func deliver(_ event: Event) {
        self.log(event)
        for listener in self.listeners { listener(event) }
        for continuation in self.subscribers.values {
            if case .dropped = continuation.yield(event) { self.droppedEvents += 1 }
        }
        self.lastDelivered = event.id
        self.recent.append(event)
        if self.recent.count > Self.recentCount { self.recent.removeFirst(self.recent.count - Self.recentCount) }
    }

    // MARK: subscribers

    /// A stream of every event delivered from now on. It ends when the caller stops
    /// iterating or the daemon shuts down.
    public func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(self.bufferSize))
        self.register(continuation, id: self.nextSubscriber)
        self.nextSubscriber += 1
        return stream
    }

    /// The events after `id` (from the history, or the recent ones without it), then every
    /// event delivered from then on: no gap, nothing twice (SSE's `Last-Event-ID`). At most
    /// ``replayLimit`` are replayed; a client further behind starts from the oldest of those.
    public func subscribe(after id: UInt64) -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(self.bufferSize))
        if self.finished {
            continuation.finish()
            return stream
        }
        let subscriber = self.nextSubscriber
        self.nextSubscriber += 1
        // Queued behind everything posted so far, so what it reads and what it is then
        // handed meet exactly.
        self.enqueue { _ in (.resume(after: id, subscriber: subscriber, stream: continuation), ()) }
        return stream
    }

    public static let replayLimit = 1000

    private func replay(after id: UInt64, subscriber: UInt64, stream: AsyncStream<Event>.Continuation) async {
        guard !self.finished else { return stream.finish() }
        // Start no further back than the replay limit allows.
        let start = max(id, self.lastDelivered > UInt64(Self.replayLimit) ? self.lastDelivered - UInt64(Self.replayLimit) : 0)
        var missed: [Event] = []
        if let history = self.history, self.recent.first.map({ $0.id > start + 1 }) ?? true {
            do {
                missed = try await history.events(after: start, limit: Self.replayLimit).filter { $0.id <= self.lastDelivered }
            } catch {
                self.logger.warning("cannot read the history to resume a subscriber after event \(id): \(error)")
            }
        }
        let from = max(start, missed.last?.id ?? 0)
        missed += self.recent.filter { $0.id > from }
        for event in missed { stream.yield(event) }
        self.register(stream, id: subscriber)
    }

    private func register(_ continuation: AsyncStream<Event>.Continuation, id: UInt64) {
        if self.finished {
            continuation.finish()
            return
        }
        self.subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
    }

    public var subscriberCount: Int { self.subscribers.count }

    /// Adds a synchronous listener, called on every event in order.
    public func addListener(_ listener: @escaping @Sendable (Event) -> Void) {
        self.listeners.append(listener)
    }

    private func unsubscribe(_ id: UInt64) {
        self.subscribers[id] = nil
    }

    /// Ends every subscription (at shutdown).
    public func finish() {
        self.finished = true
        for continuation in self.subscribers.values { continuation.finish() }
        self.subscribers.removeAll()
    }

    /// Returns once everything posted so far has been delivered (tests, shutdown).
    public func settle() async {
        await self.publish([])
    }

    private func log(_ event: Event) {
        var metadata: Logger.Metadata = [:]
        for (key, value) in event.journalFields { metadata[key] = .string(value) }
        let level: Logger.Level =
            switch event.kind.priority {
            case ...3: .error
            case 4: .warning
            case 5: .notice
            default: .info
            }
        self.logger.log(level: level, "\(event.message)", metadata: metadata)
    }
}
