import Foundation
import NIOCore
import NIOPosix

struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var description: String { "gave up waiting for \(self.what)" }
}

/// How much slower the binaries under test are than a plain debug build:
/// `REGIOND_TEST_SLOWDOWN` (make test-sanitize sets it: ThreadSanitizer runs regiond
/// several times slower). Guards against hung tests are scaled by it.
let testSlowdown: Int64 = ProcessInfo.processInfo.environment["REGIOND_TEST_SLOWDOWN"].flatMap { Int64($0) }.map { min(max($0, 1), 20) } ?? 1

/// Runs `operation`, failing if it has not finished within `limit` (times the slowdown).
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
        let timer = loop.scheduleTask(in: .nanoseconds(limit.nanoseconds * testSlowdown)) { expired.succeed(()) }
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
