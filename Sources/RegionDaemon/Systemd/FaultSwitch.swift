#if DEBUG
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Faults a test can switch on in a running regiond. Compiled into debug builds only:
/// a release build (`make deb`, `swift build -c release`) has neither the switch nor
/// the SIGUSR2 handler.
///
/// The container test proves with it that the watchdog restarts a regiond whose process
/// is alive and answering but whose supervisor has stopped making progress.
enum FaultSwitch {
    /// While set, every region's evaluation tick returns at once without evaluating or
    /// publishing, exactly as if its loop had stopped: `isLive()` turns false and the
    /// watchdog is no longer fed.
    static let evaluationsStalled = Atomic<Bool>(false)
}

/// SIGUSR2 (debug builds only) stalls every evaluation for good; see ``FaultSwitch``.
struct FaultSignalService: Service {
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigusr2)
        for await _ in signals.cancelOnGracefulShutdown() {
            FaultSwitch.evaluationsStalled.store(true, ordering: .relaxed)
            self.logger.critical("FAULT INJECTED (debug build, SIGUSR2): region evaluations are stalled from now on")
        }
    }
}
#endif
