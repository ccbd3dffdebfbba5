import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The ``ProbeLoop``s that region monitors run on: one per core, for the life of the
/// process, as NIO's singleton group.
public final class ProbeLoopGroup: EventLoopGroup, Sendable {
    public let loops: [ProbeLoop]
    private let index = NIOLockedValueBox(0)

    init?(count: Int) {
        let loops = (0..<max(1, count)).compactMap { ProbeLoop(name: "regiond-probe-\($0)") }
        guard !loops.isEmpty else { return nil }
        self.loops = loops
    }

    /// The process's probe loops, one per core; nil when the kernel refused the
    /// descriptors a loop needs (monitors and probes then run on NIO's loops).
    public static let shared: ProbeLoopGroup? = ProbeLoopGroup(count: System.coreCount)

    /// The group monitors run on: ``shared``, or NIO's singleton without it.
    public static var forMonitors: any EventLoopGroup { Self.shared ?? MultiThreadedEventLoopGroup.singleton }

    public func next() -> any EventLoop {
        self.loops[self.index.withLockedValue { index in
            defer { index = (index + 1) % self.loops.count }
            return index
        }]
    }

    public func any() -> any EventLoop {
        self.loops.first { $0.inEventLoop } ?? self.next()
    }

    public func makeIterator() -> EventLoopIterator {
        EventLoopIterator(self.loops)
    }

    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        queue.async { callback(EventLoopError.unsupportedOperation) }
    }
}
