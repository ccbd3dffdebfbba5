import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RegionCore
import Synchronization

/// etcd's v3 API through its JSON gateway (`/v3/...` on the client port), over
/// AsyncHTTPClient. Why not gRPC: docs/architecture.md ("Cluster mode").
///
/// Each request goes to the endpoint that answered last, then to the others in order,
/// each within `timeout`; so losing one etcd member costs one timeout, once.
public final class EtcdClient: Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    let endpoints: [String]
    let timeout: Duration
    let http: HTTPClient
    private let preferred = Mutex(0)

    public init(settings: ClusterSettings) throws {
        self.endpoints = settings.etcd.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.timeout = settings.requestTimeout
        var configuration = HTTPClient.Configuration()
        if let tls = settings.tls {
            var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
            if let ca = tls.caFile { tlsConfiguration.trustRoots = .file(ca) }
            if let cert = tls.certFile, let key = tls.keyFile {
                tlsConfiguration.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tlsConfiguration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            configuration.tlsConfiguration = tlsConfiguration
        }
        configuration.timeout.connect = .milliseconds(Int64(settings.requestTimeout.seconds * 1000))
        // Watches and campaigns stay open for as long as they last.
        configuration.timeout.read = nil
        self.http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await self.http.shutdown()
    }

    // MARK: leases

    /// A new lease of `ttl`; returns its id.
    public func grant(ttl: Duration) async throws -> Int64 {
        let response: EtcdWire.LeaseGrantResponse = try await self.call("/v3/lease/grant", EtcdWire.LeaseGrant(TTL: .init(Int64(ttl.seconds.rounded(.up)))))
        guard let id = response.ID?.value, id != 0 else { throw Failure(description: "etcd granted no lease: \(response.error ?? "no id")") }
        return id
    }

    /// Renews `lease` once; false when etcd no longer knows it (it expired).
    public func keepAlive(lease: Int64) async throws -> Bool {
        let response: EtcdWire.KeepAliveResponse = try await self.call("/v3/lease/keepalive", EtcdWire.LeaseID(ID: .init(lease)))
        return (response.result?.TTL?.value ?? 0) > 0
    }

    /// Ends `lease` now: every key bound to it goes (observations, heartbeat, election key).
    public func revoke(lease: Int64) async throws {
        let _: EtcdWire.PutResponse = try await self.call("/v3/lease/revoke", EtcdWire.LeaseID(ID: .init(lease)))
    }

    // MARK: keys

    public func put(_ key: String, _ value: Data, lease: Int64?) async throws {
        let _: EtcdWire.PutResponse = try await self.call(
            "/v3/kv/put", EtcdWire.Put(key: EtcdWire.base64(key), value: EtcdWire.base64(value), lease: lease.map { .init($0) }))
    }

    /// Puts every pair in one transaction (at most ``maxOpsPerTransaction``: etcd's default limit is 128).
    public func putAll(_ pairs: [(key: String, value: Data)], lease: Int64?) async throws {
        precondition(pairs.count <= Self.maxOpsPerTransaction)
        let txn = EtcdWire.Txn(
            compare: [],
            success: pairs.map { .init(request_put: .init(key: EtcdWire.base64($0.key), value: EtcdWire.base64($0.value), lease: lease.map { .init($0) })) })
        let _: EtcdWire.TxnResponse = try await self.call("/v3/kv/txn", txn)
    }

    public static let maxOpsPerTransaction = 100

    public func delete(_ key: String) async throws {
        let _: EtcdWire.PutResponse = try await self.call("/v3/kv/deleterange", EtcdWire.Range(key: EtcdWire.base64(key), range_end: nil))
    }

    /// Every key under `prefix`, and the revision the read was made at (linearizable).
    public func range(prefix: String) async throws -> (revision: Int64, entries: [EtcdEntry]) {
        let response: EtcdWire.RangeResponse = try await self.call(
            "/v3/kv/range", EtcdWire.Range(key: EtcdWire.base64(prefix), range_end: EtcdWire.prefixEnd(prefix)))
        return (response.header?.revision?.value ?? 0, (response.kvs ?? []).compactMap(EtcdEntry.init))
    }

    /// Writes `key` only while `fence` (the election key) still exists with the creation
    /// revision it had when this instance was elected. Returns the revision of the write,
    /// or nil when the fence refused it: this instance is no longer the leader.
    public func putFenced(_ key: String, _ value: Data, fence: LeaderLease.Leadership) async throws -> Int64? {
        try await self.fenced([.put(key: key, value: value)], fence: fence)
    }

    /// A condition of a fenced transaction besides the election key.
    public struct Unchanged: Sendable {
        /// This key was last written at `revision` (0: it does not exist yet).
        public var key: String
        public var revision: Int64

        public init(_ key: String, since revision: Int64) {
            self.key = key
            self.revision = revision
        }
    }

    /// One change of a fenced transaction.
    public enum FencedChange: Sendable {
        case put(key: String, value: Data)
        /// A put bound to a lease (another instance's: the key dies with it).
        case putLeased(key: String, value: Data, lease: Int64)
        case delete(key: String)
        /// Every key from `from` up to, not including, `to`.
        case deleteRange(from: String, to: String)

        var operation: EtcdWire.RequestOp {
            switch self {
            case .put(let key, let value): .init(request_put: .init(key: EtcdWire.base64(key), value: EtcdWire.base64(value), lease: nil))
            case .putLeased(let key, let value, let lease): .init(request_put: .init(key: EtcdWire.base64(key), value: EtcdWire.base64(value), lease: .init(lease)))
            case .delete(let key): .init(request_delete_range: .init(key: EtcdWire.base64(key), range_end: nil))
            case .deleteRange(let from, let to): .init(request_delete_range: .init(key: EtcdWire.base64(from), range_end: EtcdWire.base64(to)))
            }
        }
    }

    /// Makes every change in one transaction, only while `fence` holds (see
    /// ``putFenced(_:_:fence:)``). Returns the revision of the transaction, or nil when
    /// the fence refused it.
    ///
    /// `unchanged`: the transaction also requires that key not written since. A request
    /// that timed out here may still be applied by etcd later, after a newer one; with
    /// this condition it then changes nothing.
    ///
    /// `existing`: keys that must still exist with these creation revisions.
    public func fenced(_ changes: [FencedChange], fence: LeaderLease.Leadership, unchanged: Unchanged? = nil, existing: [Unchanged] = []) async throws -> Int64? {
        let txn = EtcdWire.Txn(
            compare: [.created(fence.key, at: fence.revision)] + (unchanged.map { [.modified($0.key, at: $0.revision)] } ?? [])
                + existing.map { .created($0.key, at: $0.revision) },
            success: changes.map(\.operation))
        let response: EtcdWire.TxnResponse = try await self.call("/v3/kv/txn", txn)
        guard response.succeeded == true else { return nil }
        return response.header?.revision?.value
    }

    /// Deletes `key` only while `absent` does not exist; false when it does.
    public func delete(_ key: String, whileAbsent absent: String) async throws -> Bool {
        let txn = EtcdWire.Txn(compare: [.created(absent, at: 0)], success: [FencedChange.delete(key: key).operation])
        let response: EtcdWire.TxnResponse = try await self.call("/v3/kv/txn", txn)
        return response.succeeded == true
    }

    /// One key's entry, or nil when it does not exist.
    public func get(_ key: String) async throws -> EtcdEntry? {
        let response: EtcdWire.RangeResponse = try await self.call("/v3/kv/range", EtcdWire.Range(key: EtcdWire.base64(key), range_end: nil))
        return response.kvs?.first.flatMap(EtcdEntry.init)
    }

    // MARK: election

    /// Blocks until this lease holds `election` (no timeout: cancel the task to give up).
    public func campaign(election: String, lease: Int64, value: String) async throws -> LeaderLease.Leadership {
        let response: EtcdWire.CampaignResponse = try await self.call(
            "/v3/election/campaign", EtcdWire.Campaign(name: EtcdWire.base64(election), lease: .init(lease), value: EtcdWire.base64(value)),
            timeout: .seconds(86_400 * 365))
        guard let key = response.leader?.key.flatMap({ Data(base64Encoded: $0) }), let revision = response.leader?.rev?.value else {
            throw Failure(description: "etcd's campaign answer has no leader key")
        }
        return LeaderLease.Leadership(key: String(decoding: key, as: UTF8.self), revision: revision)
    }

    /// The current holder of `election`: its key, creation revision and value (the observer name).
    public func leader(election: String) async throws -> EtcdEntry? {
        do {
            let response: EtcdWire.LeaderResponse = try await self.call("/v3/election/leader", EtcdWire.LeaderRequest(name: EtcdWire.base64(election)))
            return response.kv.flatMap(EtcdEntry.init)
        } catch let failure as Failure where failure.description.contains("no leader") {
            return nil
        }
    }

    // MARK: watch

    /// Every change under `prefix` after `revision`, as etcd streams them. The stream ends
    /// with an error when the connection drops or the revision was compacted.
    public func watch(prefix: String, after revision: Int64) -> AsyncThrowingStream<[EtcdChange], any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let body = EtcdWire.WatchCreate(
                        create_request: .init(key: EtcdWire.base64(prefix), range_end: EtcdWire.prefixEnd(prefix), start_revision: .init(revision + 1)))
                    let response = try await self.send("/v3/watch", body, timeout: .seconds(86_400 * 365))
                    var pending: [UInt8] = []
                    for try await chunk in response.body {
                        pending += chunk.readableBytesView
                        guard pending.count < 64 << 20 else { throw Failure(description: "a watch message over 64 MB") }
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = Data(pending[..<newline])
                            pending.removeSubrange(...newline)
                            guard !line.isEmpty else { continue }
                            let message = try JSONDecoder().decode(EtcdWire.WatchMessage.self, from: line)
                            if let error = message.error { throw Failure(description: "etcd ended the watch: \(error.message ?? "no reason")") }
                            guard let result = message.result else { continue }
                            if result.canceled == true {
                                throw Failure(description: "etcd cancelled the watch: \(result.cancel_reason ?? "compacted at \(result.compact_revision?.value ?? 0)")")
                            }
                            let changes = (result.events ?? []).compactMap { event -> EtcdChange? in
                                guard let kv = event.kv, let entry = EtcdEntry(kv) else { return nil }
                                return event.type == "DELETE" ? .delete(key: entry.key, revision: entry.modRevision) : .put(entry)
                            }
                            if !changes.isEmpty { continuation.yield(changes) }
                        }
                    }
                    continuation.finish(throwing: Failure(description: "etcd closed the watch"))
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: transport

    func call<Request: Encodable, Response: Decodable>(_ path: String, _ body: Request, timeout: Duration? = nil) async throws -> Response {
        let response = try await self.send(path, body, timeout: timeout ?? self.timeout)
        let bytes = try await response.body.collect(upTo: 16 << 20)
        guard (200..<300).contains(response.status.code) else {
            let message = try? JSONDecoder().decode(EtcdWire.ErrorBody.self, from: Data(bytes.readableBytesView))
            throw Failure(description: "etcd answered \(response.status.code) to \(path): \(message?.message ?? "no message")")
        }
        do {
            return try JSONDecoder().decode(Response.self, from: Data(bytes.readableBytesView))
        } catch {
            throw Failure(description: "etcd's answer to \(path) is not what the v3 gateway sends: \(error)")
        }
    }

    /// Sends to the endpoint that answered last, then to the others.
    func send<Request: Encodable>(_ path: String, _ body: Request, timeout: Duration) async throws -> HTTPClientResponse {
        let encoded = try JSONEncoder().encode(body)
        let first = self.preferred.withLock { $0 }
        var failures: [String] = []
        for offset in 0..<self.endpoints.count {
            let index = (first + offset) % self.endpoints.count
            var request = HTTPClientRequest(url: self.endpoints[index] + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: encoded))
            do {
                let response = try await self.http.execute(request, timeout: .milliseconds(Int64(timeout.seconds * 1000)))
                self.preferred.withLock { $0 = index }
                return response
            } catch {
                if Task.isCancelled { throw error }
                failures.append("\(self.endpoints[index]): \(error)")
            }
        }
        throw Failure(description: "no etcd endpoint answered (\(failures.joined(separator: "; ")))")
    }
}
