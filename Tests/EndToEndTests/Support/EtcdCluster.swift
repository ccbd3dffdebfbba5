import Dispatch
import Foundation
import RegionTestSupport
import Synchronization
import Testing

/// Debian's etcd 3.4 as a 3-member cluster on loopback, started for one test. Each
/// member runs as a daemon of `/bin/sh` (not our child), so a test can stop, kill and
/// start one the way an operator would.
final class EtcdCluster: Sendable {
    struct Member: Sendable {
        var name: String
        var clientPort: Int
        var peerPort: Int
        var tls = false
        var clientURL: String { "\(self.tls ? "https" : "http")://127.0.0.1:\(self.clientPort)" }
        var peerURL: String { "http://127.0.0.1:\(self.peerPort)" }
    }

    let directory: String
    let members: [Member]
    /// With TLS: clients must present a certificate signed by `ca.pem` (`client.pem`, `client.key`).
    var tls: Bool { self.members.first?.tls ?? false }
    private let pids = Mutex<[String: pid_t]>([:])

    var clientURLs: [String] { self.members.map(\.clientURL) }

    private init(directory: String, members: [Member]) {
        self.directory = directory
        self.members = members
    }

    static func start(size: Int = 3, tls: Bool = false) async throws -> EtcdCluster {
        let directory = try makeTempDirectory()
        var members: [Member] = []
        for index in 1...size {
            members.append(Member(name: "m\(index)", clientPort: try BalancedHAProxy.freePort(), peerPort: try BalancedHAProxy.freePort(), tls: tls))
        }
        if tls { try await Self.makeCertificates(in: directory) }
        let cluster = EtcdCluster(directory: directory, members: members)
        for member in members { try await cluster.start(member.name) }
        try await cluster.waitForQuorum()
        return cluster
    }

    /// Starts (or starts again, on its data) one member.
    func start(_ name: String) async throws {
        let member = try #require(self.members.first { $0.name == name })
        let initial = self.members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let command = [
            "/usr/bin/etcd", "--name", member.name, "--data-dir", "\(self.directory)/\(member.name)",
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", "regiond-test",
            // A member that dies is replaced as raft leader in about half a second, not
            // etcd's default 1-2 s, so the tests' 400 ms requests see a short gap.
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--log-level", "warn", "--logger", "zap",
        ] + (self.tls ? [
            "--cert-file", "\(self.directory)/server.pem", "--key-file", "\(self.directory)/server.key",
            "--trusted-ca-file", "\(self.directory)/ca.pem", "--client-cert-auth",
        ] : [])
        let line = command.joined(separator: " ")
        let run = try await runProgram("/bin/sh", ["-c", "\(line) >>\(self.directory)/\(member.name).log 2>&1 & echo $!"])
        let pid = try #require(pid_t(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "etcd: \(run.stderr)")
        ProcessReaper.register(pid)
        self.pids.withLock { $0[name] = pid }
    }

    /// Waits until the cluster commits a write (etcdctl retries until its deadline: an event, not a pause).
    func waitForQuorum(limit: Int = 60) async throws {
        let run = try await runProgram(
            "/usr/bin/etcdctl", ["--endpoints", self.clientURLs.joined(separator: ","), "--command-timeout", "\(limit)s"] + self.ctlTLS + ["put", "/regiond-test/ready", "1"],
            environment: ["ETCDCTL_API": "3"])
        try #require(run.status == 0, "etcd did not form a cluster: \(run.stderr)\n\(self.logs)")
    }

    var ctlTLS: [String] {
        self.tls ? ["--cacert", "\(self.directory)/ca.pem", "--cert", "\(self.directory)/client.pem", "--key", "\(self.directory)/client.key"] : []
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate, with openssl.
    static func makeCertificates(in directory: String) async throws {
        let script = """
            set -e
            cd \(directory)
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem
            for who in server client; do
              openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=$who -keyout $who.key -out $who.csr
              printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' > $who.ext
              openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $who.ext -out $who.pem
            done
            """
        let run = try await runProgram("/bin/sh", ["-c", script])
        try #require(run.status == 0, "openssl: \(run.stderr)")
    }

    /// SIGKILL one member and wait until it is gone.
    func kill(_ name: String) async {
        guard let pid = self.pids.withLock({ $0.removeValue(forKey: name) }) else { return }
        Glibc.kill(pid, SIGKILL)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                _ = ProcessExit.wait(pid, milliseconds: 10_000)
                done.resume()
            }
        }
    }

    /// `etcdctl get --prefix` of the keys under `prefix`, values included.
    func get(prefix: String) async throws -> String {
        try await runProgram(
            "/usr/bin/etcdctl", ["--endpoints", self.clientURLs.joined(separator: ","), "get", "--prefix", prefix],
            environment: ["ETCDCTL_API": "3"]
        ).stdout
    }

    var logs: String {
        self.members.map { "--- \($0.name)\n" + ((try? String(contentsOfFile: "\(self.directory)/\($0.name).log", encoding: .utf8)) ?? "") }.joined(separator: "\n")
    }

    func stop() async {
        for member in self.members { await self.kill(member.name) }
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}
