import Foundation
import RegionCore
import Synchronization

/// One wake-up at a time: `arm(at:)` replaces whatever was armed before. The failover
/// controller arms it for the ``DecisionMaker``'s next deadline (a gradual step, the end
/// of a recovery window, a retry), so it wakes exactly then and not every second.
///
/// The sleep runs on a task of its own because arming must not wait for it; the task is
/// owned here, cancelled when re-armed and at ``cancel()``.
final class DeadlineTimer<C: Clock>: Sendable where C.Duration == Duration {
    private let time: TimeBase<C>
    private let sleeper = Mutex<Task<Void, Never>?>(nil)

    init(time: TimeBase<C>) {
        self.time = time
    }

    /// Calls `fire` at `date` (at once if it has passed); nil disarms.
    func arm(at date: Date?, fire: @escaping @Sendable () -> Void) {
        let task = date.map { date in
            Task { [time] in
                let wait = max(0, date.timeIntervalSince(time.now))
                do {
                    try await time.clock.sleep(for: .nanoseconds(Int64(min(wait, 86_400 * 365) * 1e9)))
                } catch {
                    return
                }
                fire()
            }
        }
        self.sleeper.withLock { sleeper in
            sleeper?.cancel()
            sleeper = task
        }
    }

    func cancel() {
        self.sleeper.withLock { sleeper in
            sleeper?.cancel()
            sleeper = nil
        }
    }
}
