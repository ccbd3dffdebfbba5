import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RegionCore
import Synchronization

/// Runs one probe of one endpoint and says how it went.
///
/// TCP and plain-http probes of an IP address run on the raw sockets of the
/// ``ProbeLoop`` the region's monitor runs on; the rest (TLS, host names, commands)
/// share NIO's event loop group, with HTTP clients shared per TLS setting. Every probe
/// is bounded by its timeout: when the deadline passes the probe is cancelled and
/// reported as `timeout`, whatever it was doing.
public final class Prober: Sendable {
    let group: any EventLoopGroup
    private let clients: Mutex<[TLSKey: HTTPClient]> = Mutex([:])
    /// Descriptors probes may hold at once (see ``DescriptorBudget``).
    public let descriptors: DescriptorBudget

    struct TLSKey: Hashable {
        var verify: Bool
        var caFile: String?
    }

    /// Whether TCP and plain-http probes to IP addresses run on raw sockets when a
    /// ``ProbeLoop`` asks for them (false: always on NIO channels, as before the loops).
    let useSocketEngine: Bool

    /// Whether a probe has run off the probe loops yet, and who is told when one first does.
    /// NIO's lock, which ThreadSanitizer understands (docs/reliability.md).
    private let offTheLoops = NIOLockedValueBox<(happened: Bool, hook: (@Sendable () -> Void)?)>((false, nil))

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, descriptors: DescriptorBudget = .fromLimits(), socketEngine: Bool = true) {
        self.group = group
        self.descriptors = descriptors
        self.useSocketEngine = socketEngine
    }

    /// Calls `body` once, when a probe first runs off the ``ProbeLoop``s (TLS, a host name, a
    /// command: on NIO's loops or as a task), or now if one has. The daemon watches NIO's
    /// loops for lag from then on: before, nothing it probes runs there.
    public func whenProbesLeaveTheLoops(_ body: @escaping @Sendable () -> Void) {
        let already = self.offTheLoops.withLockedValue { state in
            if !state.happened { state.hook = body }
            return state.happened
        }
        if already { body() }
    }

    private func leavingTheLoops() {
        let hook = self.offTheLoops.withLockedValue { state -> (@Sendable () -> Void)? in
            guard !state.happened else { return nil }
            state.happened = true
            defer { state.hook = nil }
            return state.hook
        }
        hook?()
    }

    /// Descriptors one probe of `check` holds: a socket, or pipes and a pidfd for a command.
    static func descriptorCost(_ check: ProbeCheck) -> Int {
        if case .exec = check { return 4 }
        return 1
    }

    func noDescriptor() -> ProbeOutcome {
        .fail(
            .local,
            "no file descriptor to spare: probes hold \(self.descriptors.inUse) of the \(self.descriptors.limit) they may use (raise LimitNOFILE= / ulimit -n)")
    }

    /// Closes the HTTP clients. Call once, when no probe runs any more.
    public func shutdown() async {
        let all = self.clients.withLock { clients in
            let all = Array(clients.values)
            clients.removeAll()
            return all
        }
        for client in all {
            try? await client.shutdown()
        }
    }

    /// An endpoint with the work that does not change between probes done once
    /// (for plain http: the parsed URL and the request bytes). A class, so that handing
    /// it to each probe is one reference count, not a copy of the endpoint's settings.
    public final class Prepared: Sendable {
        public let endpoint: EndpointConfig
        let plainHTTP: PlainHTTPProbe.Target?
        /// Set when a ``ProbeLoop`` can run this endpoint's probes on a raw socket (TCP
        /// or plain http to an IP address).
        let socket: SocketProbe?

        init(endpoint: EndpointConfig, plainHTTP: PlainHTTPProbe.Target?, socket: SocketProbe?) {
            self.endpoint = endpoint
            self.plainHTTP = plainHTTP
            self.socket = socket
        }
    }

    /// Prepares `endpoint` for repeated probing; probe loops call this once.
    public func prepare(_ endpoint: EndpointConfig) -> Prepared {
        var plainHTTP: PlainHTTPProbe.Target?
        if case .http(let check) = endpoint.check { plainHTTP = PlainHTTPProbe.target(for: check) }
        let socket = self.useSocketEngine ? SocketProbe.target(for: endpoint.check, plainHTTP: plainHTTP, timeout: endpoint.timeout, maxBody: endpoint.maxBodyBytes) : nil
        return Prepared(endpoint: endpoint, plainHTTP: plainHTTP, socket: socket)
    }

    /// Probes `endpoint` once, within its timeout.
    public func probe(_ endpoint: EndpointConfig) async -> ProbeOutcome {
        await self.probe(self.prepare(endpoint))
    }

    /// Starts one probe of a prepared endpoint on `loop`; the future completes on `loop`,
    /// within the endpoint's timeout. On a ``ProbeLoop``, TCP and plain http to an IP
    /// address run on the loop's raw sockets. Plain http to a host name runs on a NIO
    /// channel (on `loop` itself when it is one of NIO's); the other kinds run as a task
    /// whose outcome is handed back to the loop.
    public func start(_ prepared: Prepared, on loop: any EventLoop) -> EventLoopFuture<ProbeCompletion> {
        let promise = loop.makePromise(of: ProbeCompletion.self)
        let endpoint = prepared.endpoint
        let cost = Self.descriptorCost(endpoint.check)
        guard self.descriptors.acquire(cost) else {
            promise.succeed(ProbeCompletion(outcome: self.noDescriptor(), endedAt: .now()))
            return promise.futureResult
        }
        promise.futureResult.whenComplete { _ in self.descriptors.release(cost) }
        if let socket = prepared.socket, let probeLoop = loop as? ProbeLoop {
            probeLoop.start(socket, completing: promise)
            return promise.futureResult
        }
        self.leavingTheLoops()
        if case .http(let check) = endpoint.check, let target = prepared.plainHTTP {
            // A NIO channel needs one of NIO's loops; the outcome comes back to `loop`.
            let channelLoop = loop is ProbeLoop ? self.group.next() : loop
            let outcome = channelLoop.makePromise(of: ProbeOutcome.self)
            PlainHTTPProbe.start(check, target: target, timeout: endpoint.timeout, maxBody: endpoint.maxBodyBytes, completing: outcome)
            outcome.futureResult.whenSuccess { promise.succeed(ProbeCompletion(outcome: $0, endedAt: .now())) }
        } else {
            promise.completeWithTask { ProbeCompletion(outcome: await self.probeWithinBudget(prepared), endedAt: .now()) }
        }
        return promise.futureResult
    }

    /// Starts one probe of a prepared endpoint for `listener`, which hears how it ended
    /// (`probeEnded(tag, _)`) on `loop`, within the endpoint's timeout. Call on `loop`.
    /// On a ``ProbeLoop``, TCP and plain http to an IP address take the loop's path
    /// with nothing allocated per probe; the rest go through ``start(_:on:)``.
    public func start(_ prepared: Prepared, on loop: any EventLoop, for listener: any ProbeListener, tag: UInt64) {
        if let socket = prepared.socket, let probeLoop = loop as? ProbeLoop {
            guard self.descriptors.acquire(1) else {
                return listener.probeEnded(tag, ProbeCompletion(outcome: self.noDescriptor(), endedAt: .now()))
            }
            return probeLoop.start(socket, for: listener, tag: tag, descriptors: self.descriptors)
        }
        // Probes report failures as outcomes; a failed future would be a bug, but must
        // still end the probe for its listener.
        self.start(prepared, on: loop).whenComplete { result in
            listener.probeEnded(tag, (try? result.get()) ?? ProbeCompletion(outcome: .fail(.other, "probe ended without a result"), endedAt: .now()))
        }
    }

    /// Probes a prepared endpoint once, within its timeout (and the descriptor budget).
    public func probe(_ prepared: Prepared) async -> ProbeOutcome {
        let cost = Self.descriptorCost(prepared.endpoint.check)
        guard self.descriptors.acquire(cost) else { return self.noDescriptor() }
        defer { self.descriptors.release(cost) }
        return await self.probeWithinBudget(prepared)
    }

    /// Probes once; the caller holds the descriptors.
    func probeWithinBudget(_ prepared: Prepared) async -> ProbeOutcome {
        let endpoint = prepared.endpoint
        let timeout = endpoint.timeout
        if let socket = prepared.socket, let probeLoop = ProbeLoopGroup.shared?.next() as? ProbeLoop {
            // The loop enforces the deadline; cancelling the wait ends it as a timeout.
            let promise = probeLoop.makePromise(of: ProbeCompletion.self)
            probeLoop.start(socket, completing: promise)
            return await withTaskCancellationHandler {
                (try? await promise.futureResult.get())?.outcome ?? .fail(.other, "probe ended without a result")
            } onCancel: {
                promise.succeed(ProbeCompletion(outcome: .fail(.timeout, "cancelled"), endedAt: .now()))
            }
        }
        self.leavingTheLoops()
        if case .http(let check) = endpoint.check, let target = prepared.plainHTTP {
            // Plain http: the lean path enforces its own deadline on the event loop.
            return await PlainHTTPProbe.run(check, target: target, timeout: timeout, maxBody: endpoint.maxBodyBytes, group: self.group)
        }
        return await withTaskGroup(of: ProbeOutcome?.self) { group in
            group.addTask {
                switch endpoint.check {
                case .http(let check): await self.probeHTTP(check, timeout: timeout, maxBody: endpoint.maxBodyBytes)
                case .tcp(let host, let port): await self.probeTCP(host: host, port: port, timeout: timeout)
                case .exec(let check): await ExecProbe.run(check, timeout: timeout)
                }
            }
            group.addTask {
                // The deadline. Returns nil when cancelled because the probe ended first.
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return nil
                }
                return .fail(.timeout, "no answer within \(formatDuration(timeout))")
            }
            let first = await group.next()!
            group.cancelAll()
            if let first { return first }
            return await group.next()! ?? .fail(.timeout, "no answer within \(formatDuration(timeout))")
        }
    }

    // MARK: HTTP

    func client(for check: HTTPCheck) throws -> HTTPClient {
        let key = TLSKey(verify: check.tlsVerify, caFile: check.caFile)
        if let existing = self.clients.withLock({ $0[key] }) { return existing }
        var tls = TLSConfiguration.makeClientConfiguration()
        if !check.tlsVerify {
            tls.certificateVerification = .none
        } else if let caFile = check.caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(),
            // Health checks open a new connection each time, as HAProxy does:
            // a pooled connection would hide a listener that no longer accepts.
            connectionPool: .init(idleTimeout: .seconds(1), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        )
        // A probe reports the first failure as it is (refused, TLS); retrying until the
        // deadline would turn every failure into "timeout".
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .disabled
        configuration.maximumUsesPerConnection = 1
        let created = HTTPClient(eventLoopGroup: self.group, configuration: configuration)
        let (client, extra) = self.clients.withLock { clients -> (HTTPClient, HTTPClient?) in
            if let raced = clients[key] { return (raced, created) }
            clients[key] = created
            return (created, nil)
        }
        if let extra { Task { try? await extra.shutdown() } }
        return client
    }

    func probeHTTP(_ check: HTTPCheck, timeout: Duration, maxBody: Int) async -> ProbeOutcome {
        let client: HTTPClient
        do {
            client = try self.client(for: check)
        } catch {
            return .fail(.tls, "cannot load ca_file \(check.caFile ?? ""): \(error)")
        }
        var request = HTTPClientRequest(url: check.url)
        request.method = .init(rawValue: check.method)
        request.headers.add(name: "User-Agent", value: "regiond/\(RegiondVersion.string)")
        request.headers.add(name: "Connection", value: "close")
        for (name, value) in check.headers {
            request.headers.replaceOrAdd(name: name, value: value)
        }
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            var body = ByteBuffer()
            var truncated = false
            for try await chunk in response.body {
                let room = maxBody - body.readableBytes
                if chunk.readableBytes > room {
                    var part = chunk
                    if room > 0, let slice = part.readSlice(length: room) { body.writeImmutableBuffer(slice) }
                    truncated = true
                    break
                }
                body.writeImmutableBuffer(chunk)
            }
            return HTTPVerdict.judge(
                check: check, status: Int(response.status.code),
                header: { name in response.headers.first(name: name) },
                body: Array(body.readableBytesView), truncated: truncated, maxBody: maxBody)
        } catch {
            let (failure, detail) = ProbeErrorClassifier.classify(error)
            return .fail(failure, detail)
        }
    }

    // MARK: TCP

    func probeTCP(host: String, port: Int, timeout: Duration) async -> ProbeOutcome {
        do {
            let channel = try await ClientBootstrap(group: self.group)
                .connectTimeout(.nanoseconds(Int64(timeout.seconds * 1e9)))
                .connect(host: host, port: port)
                .get()
            try? await channel.close()
            return .pass("connected")
        } catch {
            let (failure, detail) = ProbeErrorClassifier.classify(error)
            return .fail(failure, detail)
        }
    }
}
