import Foundation
import NIOCore
import Synchronization

/// Plays systemd's side of sd_notify: a Unix datagram socket set as
/// `NOTIFY_SOCKET`. Every datagram is kept, in order.
final class NotifyListener: Sendable {
    let path: String
    private let fd: Int32
    private let inbox: Inbox
    private let closed = Mutex(false)

    /// Datagrams in arrival order, and the tests waiting for one. Filled on the event loop.
    final class Inbox: Sendable {
        typealias Waiter = (id: UUID, predicate: @Sendable (String) -> Bool, from: Int, continuation: CheckedContinuation<String, Never>)
        struct State {
            var messages: [String] = []
            var waiters: [Waiter] = []
        }
        let state = Mutex(State())

        func add(_ message: String) {
            let ready = self.state.withLock { state -> [(Waiter, String)] in
                state.messages.append(message)
                let index = state.messages.count - 1
                let matched = state.waiters.filter { index >= $0.from && $0.predicate(message) }
                state.waiters.removeAll { index >= $0.from && $0.predicate(message) }
                return matched.map { ($0, message) }
            }
            for (waiter, message) in ready { waiter.continuation.resume(returning: message) }
        }

        var messages: [String] { self.state.withLock { $0.messages } }

        /// The first message at or after index `from` that matches; "" if the waiting task is cancelled.
        func first(from: Int, where predicate: @escaping @Sendable (String) -> Bool) async -> String {
            let id = UUID()
            return await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let found = self.state.withLock { state -> String? in
                        if let found = state.messages.dropFirst(from).first(where: predicate) { return found }
                        if Task.isCancelled { return "" }
                        state.waiters.append((id, predicate, from, continuation))
                        return nil
                    }
                    if let found { continuation.resume(returning: found) }
                }
            } onCancel: {
                let waiter = self.state.withLock { state -> Waiter? in
                    guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return state.waiters.remove(at: index)
                }
                waiter?.continuation.resume(returning: "")
            }
        }
    }

    private init(path: String, fd: Int32, inbox: Inbox) {
        self.path = path
        self.fd = fd
        self.inbox = inbox
    }

    /// Binds the datagram socket and reads it on a thread of its own. (NIO's datagram
    /// channel cannot name sd_notify's unbound sender and drops those datagrams.)
    static func start(path: String) async throws -> NotifyListener {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw DeadlineExceeded(what: "a datagram socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8) + [0]
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw DeadlineExceeded(what: "bind \(path): errno \(errno)") }
        let inbox = Inbox()
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }
                inbox.add(String(decoding: buffer[..<count], as: UTF8.self))
            }
        }
        thread.start()
        return NotifyListener(path: path, fd: fd, inbox: inbox)
    }

    var messages: [String] { self.inbox.messages }

    /// Waits for a datagram containing `text` (at or after message number `from`) and returns it.
    @discardableResult
    func wait(for text: String, from: Int = 0, limit: TimeAmount = .seconds(30)) async throws -> String {
        let inbox = self.inbox
        return try await within(limit, "sd_notify \(text)") {
            await inbox.first(from: from) { $0.contains(text) }
        }
    }

    /// Closes the socket once. (A second close would hit whatever descriptor the number
    /// was reused for, e.g. an event loop's epoll, and hang the test process.)
    func close() async {
        guard self.closed.withLock({ closed in defer { closed = true }; return !closed }) else { return }
        // Shutting the socket down wakes the reading thread, which then ends.
        shutdown(self.fd, Int32(SHUT_RDWR))
        Glibc.close(self.fd)
        try? FileManager.default.removeItem(atPath: self.path)
    }
}
