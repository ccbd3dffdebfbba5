import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import RegionCore

/// Runs the very pipeline an `http://` probe uses on bytes given by the caller, with no
/// socket: the request goes out, `chunks` come in one read each, then the connection
/// closes. The fuzz harness and the tests judge endpoint answers through it.
public enum ResponseReplay {
    /// The outcome a probe of `check` reports when the endpoint answers `chunks`.
    public static func outcome(of chunks: [[UInt8]], check: HTTPCheck, maxBody: Int = 65_536) -> ProbeOutcome {
        guard let target = PlainHTTPProbe.target(for: check) else { return .fail(.other, "not an http:// URL") }
        let channel = EmbeddedChannel()
        let promise = channel.eventLoop.makePromise(of: ProbeOutcome.self)
        do {
            try PlainHTTPProbe.addHandlers(to: channel.pipeline.syncOperations, check: check, target: target, maxBody: maxBody, promise: promise)
            channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 9), promise: nil)
            try channel.writeOutbound(target.requestBytes)
            for chunk in chunks where channel.isActive {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            }
        } catch {
            // The collector has reported the error through the promise already.
            channel.pipeline.fireErrorCaught(error)
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        // An embedded loop runs callbacks at once, on this thread.
        let outcome = NIOLockedValueBox<ProbeOutcome?>(nil)
        promise.futureResult.whenSuccess { result in outcome.withLockedValue { $0 = result } }
        promise.succeed(.fail(.other, "probe ended without a result"))  // ignored when it has one
        return outcome.withLockedValue { $0 } ?? .fail(.other, "probe ended without a result")
    }

    /// What a probe loop's pooled answer (``HTTPAnswer/reset(_:)``) makes of `chunks`
    /// after it read them once already, whatever state that left it in (mid-body,
    /// failed, complete), against a fresh answer: nil when they agree.
    public static func reuseDiffers(_ chunks: [[UInt8]], check: HTTPCheck, maxBody: Int) -> String? {
        let isHead = check.method == "HEAD"
        func judge(_ answer: HTTPAnswer) -> ProbeOutcome {
            for chunk in chunks {
                if let outcome = chunk.withUnsafeBytes({ answer.feed($0) }) { return outcome }
            }
            return answer.finish()
        }
        let fresh = judge(HTTPAnswer(check: check, isHead: isHead, maxBody: maxBody))
        // Another endpoint's settings first, so the reset has to replace them too.
        var other = check
        other.capacityHeader = "X-Other"
        other.lagHeader = "X-Lag"
        let reused = HTTPAnswer(check: other, isHead: !isHead, maxBody: maxBody / 2 + 1)
        _ = judge(reused)
        reused.reset(HTTPAnswer.Spec(check: check, isHead: isHead, maxBody: maxBody))
        let again = judge(reused)
        return again == fresh ? nil : "a reused answer says \(again), a fresh one \(fresh)"
    }
}

