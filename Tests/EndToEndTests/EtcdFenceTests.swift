import Foundation
import NIOCore
import RegionCore
import RegionDaemon
import Testing

/// regiond's etcd client against a real etcd cluster: leases, the election, the watch,
/// and the fence that keeps a deposed leader from writing.
@Suite("etcd client and fence (real etcd)", .serialized)
struct EtcdFenceTests {
    static func client(_ etcd: EtcdCluster, urls: [String]? = nil) throws -> EtcdClient {
        var settings = ClusterSettings(etcd: urls ?? etcd.clientURLs, name: "test")
        settings.requestTimeout = .seconds(2)
        return try EtcdClient(settings: settings)
    }

    @Test func aDeposedLeadersWriteIsRefusedByTheTransaction() async throws {
        let etcd = try await EtcdCluster.start()
        let client = try Self.client(etcd)
        do {
            let prefix = "/fence-\(UUID().uuidString.prefix(6))"
            let first = try await client.grant(ttl: .seconds(30))
            let old = try await client.campaign(election: prefix + "/leader", lease: first, value: "old")
            #expect(try await client.putFenced(prefix + "/state", Data("one".utf8), fence: old) != nil)
            // The old leader's lease ends (as when it is stopped past its TTL); another wins.
            try await client.revoke(lease: first)
            let second = try await client.grant(ttl: .seconds(30))
            let new = try await client.campaign(election: prefix + "/leader", lease: second, value: "new")
            #expect(new.revision > old.revision)
            #expect(try await client.leader(election: prefix + "/leader")?.value == Data("new".utf8))
            // The stale write is refused; the new leader's goes through; the value is the new one.
            #expect(try await client.putFenced(prefix + "/state", Data("stale".utf8), fence: old) == nil)
            let revision = try #require(try await client.putFenced(prefix + "/state", Data("two".utf8), fence: new))
            let (_, entries) = try await client.range(prefix: prefix + "/state")
            #expect(entries.map(\.value) == [Data("two".utf8)])
            #expect(entries.first?.modRevision == revision)
            // A lease etcd no longer knows is reported as gone, not as renewed.
            #expect(try await client.keepAlive(lease: first) == false)
            #expect(try await client.keepAlive(lease: second) == true)
        } catch {
            Issue.record("\(error)\n\(etcd.logs)")
        }
        await client.shutdown()
        await etcd.stop()
    }

    /// The forwarding protocol's two transactions (``ForwardedCommand``): the leader's
    /// answer requires the request still there; the follower's withdrawal requires no
    /// answer. Whichever lands first, the other changes nothing, so a command is never both
    /// answered and withdrawn. The answer dies with the follower's lease.
    @Test func aForwardedCommandIsEitherAnsweredOrWithdrawnNeverBoth() async throws {
        let etcd = try await EtcdCluster.start(size: 1)
        let client = try Self.client(etcd)
        do {
            let keys = ClusterKeys(prefix: "/forward-\(UUID().uuidString.prefix(6))")
            let follower = try await client.grant(ttl: .seconds(30))
            let leaderLease = try await client.grant(ttl: .seconds(30))
            let fence = try await client.campaign(election: keys.election, lease: leaderLease, value: "leader")
            func request(_ id: String) async throws -> ForwardedKey {
                try await client.put(keys.request(id), Data("{}".utf8), lease: follower)
                let entry = try #require(try await client.get(keys.request(id)))
                return ForwardedKey(id: id, requestRevision: entry.createRevision, lease: follower)
            }
            func answer(_ key: ForwardedKey) async throws -> Int64? {
                try await client.fenced(
                    [.putLeased(key: keys.answer(key.id), value: Data("{}".utf8), lease: key.lease), .delete(key: keys.request(key.id))], fence: fence,
                    existing: [.init(keys.request(key.id), since: key.requestRevision)])
            }

            // Withdrawn first: the leader's answer is refused.
            let a = try await request("a")
            #expect(try await client.delete(keys.request("a"), whileAbsent: keys.answer("a")))
            #expect(try await answer(a) == nil, "an answer to a withdrawn request")
            #expect(try await client.get(keys.answer("a")) == nil)

            // Answered first: the withdrawal is refused, and the answer carries the revision.
            let b = try await request("b")
            let revision = try #require(try await answer(b))
            #expect(try await client.delete(keys.request("b"), whileAbsent: keys.answer("b")) == false)
            #expect(try await client.get(keys.request("b")) == nil, "answered and removed in one transaction")
            #expect(try await client.get(keys.answer("b"))?.modRevision == revision)

            // A request sent again under the same id (a new creation revision) is not the one answered.
            let c = try await request("c")
            try await client.delete(keys.request("c"))
            _ = try await request("c")
            #expect(try await answer(c) == nil)

            // The answer goes with the follower's lease.
            try await client.revoke(lease: follower)
            #expect(try await client.get(keys.answer("b")) == nil)
        } catch {
            Issue.record("\(error)\n\(etcd.logs)")
        }
        await client.shutdown()
        await etcd.stop()
    }

    @Test func theWatchSeesPutsAndDeletesInOrderAndSurvivesALostMember() async throws {
        let etcd = try await EtcdCluster.start()
        // The first URL is a member that will be killed: requests move on to the next.
        let client = try Self.client(etcd)
        do {
            let prefix = "/watch-\(UUID().uuidString.prefix(6))/"
            let (revision, _) = try await client.range(prefix: prefix)
            let changes = client.watch(prefix: prefix, after: revision)
            let lease = try await client.grant(ttl: .seconds(30))
            try await client.put(prefix + "a", Data("1".utf8), lease: lease)
            try await client.put(prefix + "b", Data("2".utf8), lease: nil)
            try await client.revoke(lease: lease)
            let seen = try await within(.seconds(30), "three changes on the watch") {
                var seen: [String] = []
                for try await batch in changes {
                    for change in batch {
                        switch change {
                        case .put(let entry): seen.append("put \(entry.key.dropFirst(prefix.count))=\(String(decoding: entry.value, as: UTF8.self))")
                        case .delete(let key, _): seen.append("delete \(key.dropFirst(prefix.count))")
                        }
                    }
                    if seen.count >= 3 { break }
                }
                return seen
            }
            #expect(seen == ["put a=1", "put b=2", "delete a"])
            await etcd.kill(etcd.members[0].name)
            try await client.put(prefix + "c", Data("3".utf8), lease: nil)
            #expect(try await client.range(prefix: prefix).entries.map(\.key) == [prefix + "b", prefix + "c"])
        } catch {
            Issue.record("\(error)\n\(etcd.logs)")
        }
        await client.shutdown()
        await etcd.stop()
    }

    /// `[cluster]`'s TLS keys: etcd that demands a client certificate answers regiond's
    /// client with `ca_file`, `cert_file` and `key_file`, and refuses it without them.
    @Test func tlsWithAClientCertificate() async throws {
        let etcd = try await EtcdCluster.start(size: 1, tls: true)
        var settings = ClusterSettings(etcd: etcd.clientURLs, name: "test")
        settings.requestTimeout = .seconds(2)
        settings.tls = .init(caFile: "\(etcd.directory)/ca.pem", certFile: "\(etcd.directory)/client.pem", keyFile: "\(etcd.directory)/client.key")
        let client = try EtcdClient(settings: settings)
        settings.tls = .init(caFile: "\(etcd.directory)/ca.pem")
        let anonymous = try EtcdClient(settings: settings)
        do {
            #expect(etcd.clientURLs.allSatisfy { $0.hasPrefix("https://") })
            try await client.put("/tls/key", Data("over TLS".utf8), lease: nil)
            #expect(try await client.range(prefix: "/tls/").entries.map(\.value) == [Data("over TLS".utf8)])
            await #expect(throws: EtcdClient.Failure.self) { try await anonymous.range(prefix: "/tls/") }
        } catch {
            Issue.record("\(error)\n\(etcd.logs)")
        }
        await client.shutdown()
        await anonymous.shutdown()
        await etcd.stop()
    }
}
