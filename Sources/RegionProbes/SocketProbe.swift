import NIOCore
import RegionCore

/// A probe a ``ProbeLoop`` can run on a raw socket: a TCP connect, or a plain-HTTP
/// request, to an IP address. Built once per endpoint by ``Prober/prepare(_:)``.
struct SocketProbe: Sendable {
    enum Kind: Sendable {
        /// Connect, send `request`, read the answer with ``HTTPAnswer``. `wanted`: the
        /// framer's form of the headers the verdict reads.
        case http(check: HTTPCheck, request: [UInt8], isHead: Bool, maxBody: Int, wanted: [[UInt8]])
        /// Connect and close: the port accepts connections.
        case tcp
    }

    var address: SocketAddress
    var kind: Kind
    var timeout: Duration

    /// The raw-socket form of `check`, or nil when it needs a resolver or TLS (those
    /// run on NIO: host names resolve on every probe, so a changed address is followed).
    static func target(for check: ProbeCheck, plainHTTP: PlainHTTPProbe.Target?, timeout: Duration, maxBody: Int) -> SocketProbe? {
        switch check {
        case .http(let http):
            guard let plainHTTP, let address = plainHTTP.address else { return nil }
            let kind = Kind.http(
                check: http, request: Array(plainHTTP.requestBytes.readableBytesView), isHead: plainHTTP.isHead, maxBody: maxBody,
                wanted: HTTPResponseFramer.wanted(HTTPAnswer.wantedHeaders(http)))
            return SocketProbe(address: address, kind: kind, timeout: timeout)
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
