import RegionCore

/// Reads one endpoint's answer to an `http://` probe and judges it: bytes in as they
/// arrive, an outcome out once the answer is complete, broken or cut short.
///
/// Both ways a plain-HTTP probe reaches an endpoint use it: a ``ProbeLoop``'s raw socket
/// for IP addresses and the NIO channel for host names. The framing is
/// llhttp's (``HTTPResponseFramer``), the verdict ``HTTPVerdict``'s; this type only maps
/// how the framing ended onto a ``ProbeOutcome``. ``ResponseReplay`` and the fuzz harness
/// drive it on bytes given by the caller.
final class HTTPAnswer {
    /// What an endpoint's answers are read for, worked out once per endpoint.
    final class Spec: Sendable {
        let check: HTTPCheck
        let isHead: Bool
        let maxBody: Int
        /// The framer's form of the headers the verdict reads (capacity, lag).
        let wanted: [[UInt8]]

        init(check: HTTPCheck, isHead: Bool, maxBody: Int) {
            self.check = check
            self.isHead = isHead
            self.maxBody = maxBody
            self.wanted = HTTPResponseFramer.wanted([check.capacityHeader, check.lagHeader].compactMap { $0 })
        }

        /// The verdict on a complete answer. A method, so that `check` is read in place:
        /// handed out of the class, it was copied string by string on every probe.
        func judge(_ framer: HTTPResponseFramer) -> ProbeOutcome {
            HTTPVerdict.judge(
                check: self.check, status: framer.status, header: { framer.headerValue($0) },
                body: framer.body, truncated: framer.truncated, maxBody: framer.maxBody)
        }
    }

    private(set) var spec: Spec
    private let framer: HTTPResponseFramer

    init(_ spec: Spec) {
        self.spec = spec
        self.framer = HTTPResponseFramer(isHead: spec.isHead, maxBody: spec.maxBody, wantedHeaders: spec.wanted)
    }

    convenience init(check: HTTPCheck, isHead: Bool, maxBody: Int) {
        self.init(Spec(check: check, isHead: isHead, maxBody: maxBody))
    }

    /// Makes this answer as new, for the next probe (of any endpoint): a probe loop
    /// reuses its answers rather than allocating one (and an llhttp parser) per probe.
    func reset(_ spec: Spec) {
        self.spec = spec
        self.framer.reset(isHead: spec.isHead, maxBody: spec.maxBody, wantedHeaders: spec.wanted)
    }

    /// The next bytes of the answer; the outcome once they end it, nil while more is needed.
    func feed(_ bytes: UnsafeRawBufferPointer) -> ProbeOutcome? {
        self.outcome(self.framer.feed(bytes))
    }

    /// The connection ended (the endpoint closed it): the outcome, whatever was read.
    func finish() -> ProbeOutcome {
        self.outcome(self.framer.finish()) ?? .fail(.body, "connection closed before the end of the response")
    }

    private func outcome(_ progress: HTTPResponseFramer.Progress) -> ProbeOutcome? {
        switch progress {
        case .needMore:
            return nil
        case .complete:
            return self.spec.judge(self.framer)
        case .failed(.nothing):
            return .fail(.refused, "connection closed by the server before a response")
        case .failed(.cutShort(let bytes)):
            return .fail(.body, "connection closed before the end of the response (\(bytes) body bytes read)")
        case .failed(.headersTooLarge):
            return .fail(.body, "response headers larger than \(HTTPResponseFramer.headerLimit) bytes")
        case .failed(.invalid(let why)):
            return .fail(.body, "not a valid HTTP response: \(why)")
        }
    }
}
