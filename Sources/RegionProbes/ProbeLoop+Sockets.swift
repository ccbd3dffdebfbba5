import CProbeSockets
import Foundation
import NIOCore
import RegionCore

/// A ``ProbeLoop``'s probes on raw sockets.
///
/// Per probe: `socket`, `setsockopt` (`TCP_QUICKACK` off), `connect`, one `epoll_ctl`
/// (edge-triggered, reading and writing at once, so it is never modified; `close`
/// removes it), `send`, `recv` until the answer is complete, `setsockopt` (`SO_LINGER`
/// 0) and `close`. A connect that failed shows on the first `send`. Every connection is
/// closed with a reset, as HAProxy closes its checks, so probing leaves no TIME_WAIT
/// sockets behind, here or on the endpoint.
///
/// The request waits for the writable event even when `connect` has already finished
/// the handshake (loopback). Sent at once, it woke the endpoint in the middle of the
/// loop's turn, which then preempted the loop 0.27 times a probe (against 0.005), and
/// the loop used 20% more CPU (1,178 against 978 ms per 10 s at 1,000 endpoints).
extension ProbeLoop {
    /// Who hears how a probe ended.
    enum Completion {
        case promise(EventLoopPromise<ProbeCompletion>)
        /// A monitor's scheduled probe; the loop gives its descriptor back to `descriptors`.
        case listener(any ProbeListener, tag: UInt64, descriptors: DescriptorBudget)

        func complete(_ completion: ProbeCompletion) {
            switch self {
            case .promise(let promise):
                promise.succeed(completion)
            case .listener(let listener, let tag, let descriptors):
                descriptors.release(1)
                listener.probeEnded(tag, completion)
            }
        }
    }

    struct Flight {
        var fd: Int32
        var completion: Completion
        var timeout: Duration
        var answer: HTTPAnswer?
        var request: [UInt8]
        var sent = 0
        /// Readable since the last read (an edge may come before the request is sent).
        var readable = false
        /// The endpoint closed its side (EOF, RDHUP or HUP seen).
        var peerClosed = false
    }

    /// Runs `probe`; `promise` (of this loop) completes by the probe's timeout at the latest.
    func start(_ probe: SocketProbe, completing promise: EventLoopPromise<ProbeCompletion>) {
        guard self.inEventLoop else { return self.execute { self.start(probe, completing: promise) } }
        self.start(probe, .promise(promise))
    }

    /// Runs `probe` for a listener (on the loop); see ``Completion/listener(_:tag:descriptors:)``.
    func start(_ probe: SocketProbe, for listener: any ProbeListener, tag: UInt64, descriptors: DescriptorBudget) {
        assert(self.inEventLoop, "a listener's probe started off its ProbeLoop")
        self.start(probe, .listener(listener, tag: tag, descriptors: descriptors))
    }

    private func start(_ probe: SocketProbe, _ completion: Completion) {
        let now = Self.uptime()
        let fd = socket(probe.family, Int32(bitPattern: SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return self.reject(completion, errno: errno, call: "socket", now: now) }
        // Delay the handshake's last ACK, as HAProxy's checks do: it goes out with the
        // request, so the endpoint is woken once (connection and request together) rather
        // than once to accept and again to read; a TCP probe, closed with a reset on
        // connecting, never wakes it at all. A refusal only costs that saving.
        var quickAck: Int32 = 0
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &quickAck, socklen_t(MemoryLayout<Int32>.size))
        let connected = withUnsafeBytes(of: probe.rawAddress) { connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), probe.rawLength) }
        if connected != 0, errno != EINPROGRESS {
            let code = errno
            Glibc.close(fd)
            return self.reject(completion, errno: code, call: "connect", now: now)
        }
        let slot = self.freeSlots.popLast() ?? self.newSlot()
        self.nextGeneration &+= 1
        var event = epoll_event()
        event.events = regiond_epollin | regiond_epollout | regiond_epollrdhup | regiond_epollet
        event.data.u64 = UInt64(slot) | UInt64(self.nextGeneration) << 32
        guard epoll_ctl(self.epollDescriptor, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let code = errno
            Glibc.close(fd)
            self.freeSlots.append(slot)
            return self.reject(completion, errno: code, call: "epoll_ctl", now: now)
        }
        var flight = Flight(fd: fd, completion: completion, timeout: probe.timeout, answer: nil, request: [])
        if case .http(let spec, let request) = probe.kind {
            if let spare = self.spareAnswers.popLast() {
                spare.reset(spec)
                flight.answer = spare
            } else {
                flight.answer = HTTPAnswer(spec)
            }
            flight.request = request
        }
        self.flights[slot] = flight
        self.flightGenerations[slot] = self.nextGeneration
        self.probeDeadlines.push(.init(deadline: now &+ probe.timeoutNanoseconds, id: event.data.u64), timeout: probe.timeoutNanoseconds)
    }

    private func newSlot() -> Int {
        self.flights.append(nil)
        self.flightGenerations.append(0)
        return self.flights.count - 1
    }

    private func reject(_ completion: Completion, errno code: Int32, call: String, now: UInt64) {
        let (failure, detail) = ProbeErrorClassifier.classify(errno: code, call: "\(call): \(String(cString: strerror(code)))")
        completion.complete(ProbeCompletion(outcome: .fail(failure, detail), endedAt: .uptimeNanoseconds(now)))
    }

    /// The slot of the flight a tag names (`slot | generation << 32`), if that flight may
    /// still be in the air; the caller then moves it out (`take()`: no retain and release
    /// of what it holds, as a copy or a returned tuple would), and puts it back or ends it.
    /// The generation is checked in its own array, without touching the flight: a stale
    /// tag, such as the timeout of a probe that has ended, costs a comparison.
    private func slot(of tag: UInt64) -> Int? {
        let slot = Int(tag & 0xFFFF_FFFF)
        guard slot < self.flightGenerations.count, self.flightGenerations[slot] == UInt32(truncatingIfNeeded: tag >> 32) else { return nil }
        return slot
    }

    /// Ends every probe whose timeout has passed.
    func expireProbes(now: UInt64) {
        while let due = self.probeDeadlines.popDue(now: now) {
            guard let slot = self.slot(of: due.id), let flight = self.flights[slot].take() else { continue }
            self.noteLateness(due: due.deadline, now: now)
            self.end(slot, flight, .fail(.timeout, "no answer within \(formatDuration(flight.timeout))"), now: now)
        }
    }

    /// Ends the probe `flight` (moved out of `slot`): closes its socket, frees the slot,
    /// then tells whoever waits (who may start the next probe in the same slot).
    private func end(_ slot: Int, _ flight: Flight, _ outcome: ProbeOutcome, now: UInt64) {
        // A reset, as HAProxy closes its checks, whoever closed first: no FIN and ACK
        // exchange, no FIN_WAIT or TIME_WAIT socket on either side. 7% less CPU per HTTP
        // probe than a FIN after the endpoint's (docs/performance.md).
        var abort = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(flight.fd, SOL_SOCKET, SO_LINGER, &abort, socklen_t(MemoryLayout<linger>.size))
        Glibc.close(flight.fd)
        self.freeSlots.append(slot)
        // Judged already (the outcome is in hand): the next probe may reuse it.
        if let answer = flight.answer { self.spareAnswers.append(answer) }
        flight.completion.complete(ProbeCompletion(outcome: outcome, endedAt: .uptimeNanoseconds(now)))
    }

    private func fail(_ slot: Int, _ flight: Flight, errno code: Int32, call: String, now: UInt64) {
        let (failure, detail) = ProbeErrorClassifier.classify(errno: code, call: "\(call): \(String(cString: strerror(code)))")
        self.end(slot, flight, .fail(failure, detail), now: now)
    }

    /// One epoll event for a probe; stale events (the slot has moved on) are dropped.
    func handle(flightTag: UInt64, events: UInt32, now: UInt64) {
        // Every path below puts the flight back or ends the probe.
        guard let slot = self.slot(of: flightTag), var flight = self.flights[slot].take() else { return }
        let writable = events & (regiond_epollout | regiond_epollerr | regiond_epollhup) != 0
        if events & (regiond_epollin | regiond_epollrdhup | regiond_epollhup | regiond_epollerr) != 0 { flight.readable = true }
        if events & (regiond_epollrdhup | regiond_epollhup) != 0 { flight.peerClosed = true }

        guard let answer = flight.answer else {
            // TCP: the connect has ended, one way or the other.
            guard writable else { return self.flights[slot] = flight }
            var code: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(flight.fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
            if code == 0 { return self.end(slot, flight, .pass("connected"), now: now) }
            return self.fail(slot, flight, errno: code, call: "connect", now: now)
        }
        if flight.sent < flight.request.count {
            guard writable else { return self.flights[slot] = flight }
            let sent = flight.request.withUnsafeBytes { bytes in
                send(flight.fd, bytes.baseAddress! + flight.sent, bytes.count - flight.sent, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return self.flights[slot] = flight }
                return self.fail(slot, flight, errno: code, call: "send", now: now)
            }
            flight.sent += sent
            guard flight.sent == flight.request.count else { return self.flights[slot] = flight }
        }
        guard flight.readable else { return self.flights[slot] = flight }
        self.read(slot, &flight, answer, now: now)
    }

    /// Reads what has arrived. Edge-triggered: after a short read the socket is drained
    /// and the next arrival (or the endpoint's close) brings a new event; once the
    /// endpoint has closed, only reading on finds the end.
    private func read(_ slot: Int, _ flight: inout Flight, _ answer: HTTPAnswer, now: UInt64) {
        while true {
            let count = recv(flight.fd, self.buffer.baseAddress, self.buffer.count, 0)
            if count > 0 {
                if let outcome = answer.feed(UnsafeRawBufferPointer(rebasing: self.buffer[0..<count])) {
                    return self.end(slot, flight, outcome, now: now)
                }
                if count < self.buffer.count, !flight.peerClosed {
                    flight.readable = false
                    return self.flights[slot] = flight
                }
            } else if count == 0 {
                flight.peerClosed = true
                return self.end(slot, flight, answer.finish(), now: now)
            } else {
                let code = errno
                if code == EINTR { continue }
                flight.readable = false
                if code == EAGAIN || code == EWOULDBLOCK { return self.flights[slot] = flight }
                return self.fail(slot, flight, errno: code, call: "recv", now: now)
            }
        }
    }
}
