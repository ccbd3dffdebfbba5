import Glibc
import NIOCore
import RegionCore

/// A probe a ``ProbeLoop`` can run on a raw socket: a TCP connect, or a plain-HTTP
/// request, to an IP address. Built once per endpoint by ``Prober/prepare(_:)``; a class,
/// so that handing it to each probe is one reference count, not a copy of its check (a
/// retain and a release per string of the check, on every probe).
final class SocketProbe: Sendable {
    enum Kind: Sendable {
        /// Connect, send `request`, read the answer with an ``HTTPAnswer`` set for `answer`.
        case http(answer: HTTPAnswer.Spec, request: [UInt8])
        /// Connect and close: the port accepts connections.
        case tcp
    }

    /// The address as `socket` and `connect` take it, worked out once: NIO's
    /// `withSockAddr`, twice per probe, was about 1% of a probe loop's CPU.
    let family: Int32
    let rawAddress: sockaddr_storage
    let rawLength: socklen_t
    let kind: Kind
    let timeout: Duration
    /// `timeout` in nanoseconds.
    let timeoutNanoseconds: UInt64

    init(address: SocketAddress, kind: Kind, timeout: Duration) {
        var storage = sockaddr_storage()
        let length = address.withSockAddr { pointer, length in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: min(length, $0.count))) }
            return min(length, MemoryLayout<sockaddr_storage>.size)
        }
        self.family = Int32(storage.ss_family)
        self.rawAddress = storage
        self.rawLength = socklen_t(length)
        self.kind = kind
        self.timeout = timeout
        let parts = timeout.components
        self.timeoutNanoseconds = UInt64(max(0, parts.seconds)) &* 1_000_000_000 &+ UInt64(max(0, parts.attoseconds / 1_000_000_000))
    }

    /// The raw-socket form of `check`, or nil when it needs a resolver or TLS (those
    /// run on NIO: host names resolve on every probe, so a changed address is followed).
    static func target(for check: ProbeCheck, plainHTTP: PlainHTTPProbe.Target?, timeout: Duration, maxBody: Int) -> SocketProbe? {
        switch check {
        case .http(let http):
            guard let plainHTTP, let address = plainHTTP.address else { return nil }
            let answer = HTTPAnswer.Spec(check: http, isHead: plainHTTP.isHead, maxBody: maxBody)
            return SocketProbe(address: address, kind: .http(answer: answer, request: Array(plainHTTP.requestBytes.readableBytesView)), timeout: timeout)
        case .tcp(let host, let port):
            // HostPort has already taken the brackets off an IPv6 address.
            guard let address = try? SocketAddress(ipAddress: host, port: port) else { return nil }
            return SocketProbe(address: address, kind: .tcp, timeout: timeout)
        case .exec:
            return nil
        }
    }
}

/// How a probe ended, and when: a probe run on NIO's loops for a monitor on a probe loop
/// hands its outcome back across threads, so the end is taken where the probe ended,
/// not where its result is read.
public struct ProbeCompletion: Sendable {
    public var outcome: ProbeOutcome
    public var endedAt: NIODeadline

    public init(outcome: ProbeOutcome, endedAt: NIODeadline) {
        self.outcome = outcome
        self.endedAt = endedAt
    }
}
