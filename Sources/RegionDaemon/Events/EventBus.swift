import Foundation
import Logging
import RegionCore

/// Fans every ``Event`` out to its sinks: the log (journal or stderr), the
/// `watch` subscribers, and the listeners that keep `STATUS=` current.
///
/// Each subscriber has its own bounded stream; a subscriber that cannot keep up
/// loses the oldest events (counted in ``droppedEvents``), never the daemon's memory.
public actor EventBus {
    private var nextID: UInt64 = 1
    private var subscribers: [UInt64: AsyncStream<Event>.Continuation] = [:]
    private var nextSubscriber: UInt64 = 1
    private var listeners: [@Sendable (Event) -> Void] = []
    private let logger: Logger
    private let bufferSize: Int
    private var finished = false
    public private(set) var droppedEvents: UInt64 = 0
    /// The most recent events, newest last (for tests and `status`).
    public private(set) var recent: [Event] = []

    /// Where events that are not yet numbered are recorded (the history). Decisions
    /// arrive already committed and numbered by the failover controller.
    private var history: StateStore?

    public init(logger: Logger, bufferSize: Int = 1024, history: StateStore? = nil) {
        self.logger = logger
        self.bufferSize = bufferSize
        self.history = history
    }

    /// Records the event if it is not yet numbered, logs it and hands it to every
    /// subscriber. Returns it numbered. The actor may serve another `publish` while
    /// the history write is in flight, so two report events published at the same
    /// moment can reach watchers in either order; each keeps its own id.
    @discardableResult
    public func publish(_ event: Event) async -> Event {
        var event = event
        if event.id == 0, let history = self.history, event.kind != .historyUnavailable {
            do {
                event = try await history.append(event)
            } catch {
                self.logger.warning("cannot record event in the history: \(error)")
            }
        }
        if event.id == 0 {
            // Not recorded: numbered above anything recorded so far, for this run only.
            event.id = max(self.nextID, (self.recent.last?.id ?? 0) + 1)
        }
        self.nextID = max(self.nextID, event.id + 1)
        self.log(event)
        for listener in self.listeners { listener(event) }
        for continuation in self.subscribers.values {
            if case .dropped = continuation.yield(event) { self.droppedEvents += 1 }
        }
        self.recent.append(event)
        if self.recent.count > 256 { self.recent.removeFirst(self.recent.count - 256) }
        return event
    }

    /// Publishes several events, recorded in one history transaction: a burst (the fleet's
    /// view of 1,000 regions changing at once) costs one commit, not one each, so it
    /// neither holds up the publisher nor a stop for seconds.
    public func publish(_ events: [Event]) async {
        guard events.count > 1, let history = self.history else {
            for event in events { await self.publish(event) }
            return
        }
        var numbered = events
        do {
            numbered = try await history.commit(state: nil, events: events.filter { $0.id == 0 }, now: Date()) + events.filter { $0.id != 0 }
        } catch {
            self.logger.warning("cannot record \(events.count) events in the history: \(error)")
        }
        for event in numbered { await self.publish(event) }
    }

    /// A stream of every event published from now on. It ends when the caller
    /// stops iterating or the daemon shuts down.
    public func subscribe() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(self.bufferSize))
        if self.finished {
            continuation.finish()
            return stream
        }
        let id = self.nextSubscriber
        self.nextSubscriber += 1
        self.subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
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
