import NIOCore
import NIOPosix

struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var description: String { "gave up waiting for \(self.what)" }
}

/// Runs `operation`, failing if it has not finished within `limit`.
///
/// The limit is a guard against a hung test, not a timing assertion: tests wait
/// for events (a datagram, an event line, an exit) and this only stops them
/// from waiting forever when the event never comes.
func within<T: Sendable>(
    _ limit: TimeAmount = .seconds(30),
    _ what: String,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    return try await withThrowingTaskGroup(of: T?.self) { group in
        let expired = loop.makePromise(of: Void.self)
        let timer = loop.scheduleTask(in: limit) { expired.succeed(()) }
        group.addTask { try await operation() }
        group.addTask {
            try await withTaskCancellationHandler {
                try await expired.futureResult.get()
            } onCancel: {
                timer.cancel()
                expired.fail(CancellationError())
            }
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw DeadlineExceeded(what: what)
        }
        return value
    }
}
