import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RegionCore

/// Maps the errors of NIO, NIOSSL and AsyncHTTPClient onto ``ProbeFailure``.
enum ProbeErrorClassifier {
    /// A failed system call on a probe's socket: `code` is its errno, `call` names it
    /// for the message (NIO's `IOError` text, or a probe loop's "connect: Connection refused").
    static func classify(errno code: Int32, call: String) -> (ProbeFailure, String) {
        switch code {
        case ECONNREFUSED: return (.refused, "connection refused")
        case ECONNRESET, EPIPE: return (.refused, "connection reset")
        case ETIMEDOUT: return (.timeout, "connect timed out")
        case EHOSTUNREACH, ENETUNREACH: return (.refused, "host unreachable")
        case EMFILE, ENFILE: return (.local, "regiond is out of file descriptors (\(call)); raise LimitNOFILE= / ulimit -n")
        case ENOBUFS, ENOMEM: return (.local, "regiond is out of memory for sockets (\(call))")
        default: return (.other, "\(call)")
        }
    }

    static func classify(_ error: any Error) -> (ProbeFailure, String) {
        switch error {
        case is CancellationError:
            return (.timeout, "cancelled at the probe deadline")
        case let e as HTTPClientError:
            switch e {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .cancelled, .tlsHandshakeTimeout:
                return (.timeout, "no answer within the timeout (\(e))")
            case .remoteConnectionClosed:
                return (.refused, "connection closed by the server before a full response")
            case .invalidURL, .emptyHost:
                return (.other, "bad URL: \(e)")
            default:
                return (.body, "bad HTTP response: \(e)")
            }
        case let e as ChannelError:
            if case .connectTimeout = e { return (.timeout, "connect timed out") }
            return (.refused, "connection failed: \(e)")
        case let e as NIOConnectionError:
            if let first = e.connectionErrors.first { return self.classify(first.error) }
            if e.dnsAError != nil || e.dnsAAAAError != nil {
                return (.dns, "cannot resolve \(e.host)")
            }
            return (.dns, "no address for \(e.host)")
        case is SocketAddressError:
            return (.dns, "cannot resolve: \(error)")
        case let e as IOError:
            return self.classify(errno: e.errnoCode, call: "\(e)")
        case let e as HTTPParserError:
            if e == .headerOverflow { return (.body, "response headers larger than \(PlainHTTPProbe.headerLimit) bytes") }
            return (.body, "not a valid HTTP response: \(e)")
        case is NIOHTTPDecoderError:
            return (.body, "not a valid HTTP response: \(error)")
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return (.tls, "TLS failed: \(error)")
        default:
            let text = String(describing: error)
            if text.localizedCaseInsensitiveContains("resolve") || text.contains("getaddrinfo") {
                return (.dns, text)
            }
            if text.localizedCaseInsensitiveContains("refused") { return (.refused, text) }
            if text.localizedCaseInsensitiveContains("ssl") || text.localizedCaseInsensitiveContains("certificate") {
                return (.tls, text)
            }
            return (.other, text)
        }
    }
}
