import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

extension ConfigLoader {
    /// `[cluster]`: etcd, this observer's name, the lease timing and the quorum.
    static func readCluster(_ r: inout TableReader) -> ClusterSettings? {
        var urls: [String] = []
        if let list = r.stringArray("etcd") {
            for url in list {
                if let problem = self.etcdURLProblem(url) {
                    r.issue("etcd", problem)
                } else {
                    urls.append(url)
                }
            }
            if list.isEmpty { r.issue("etcd", "give at least one etcd client URL, e.g. etcd = [\"http://10.0.0.1:2379\"]") }
        } else if !r.has("etcd") {
            r.issue("etcd", "[cluster] needs etcd's client URLs, e.g. etcd = [\"http://10.0.0.1:2379\", \"http://10.0.0.2:2379\"]")
        }
        var name = Self.hostName()
        if let given = r.nonEmptyString("name") {
            if self.isValidName(given) { name = given } else { r.issue("name", "'\(clip(given, bytes: 80))' may only use letters, digits, '-', '_' and '.' (64 at most)") }
        } else if !self.isValidName(name) {
            r.issue("name", "the host name '\(clip(name, bytes: 80))' cannot name an observer; set name = \"...\" (letters, digits, '-', '_', '.')")
        }
        var cluster = ClusterSettings(etcd: urls, name: name)
        if let prefix = r.nonEmptyString("prefix") {
            if prefix.hasPrefix("/"), !prefix.contains(" "), prefix.utf8.count <= 200 {
                cluster.prefix = prefix
            } else {
                r.issue("prefix", "'\(clip(prefix, bytes: 80))' must start with '/' and have no spaces, e.g. \"/regiond/prod\"")
            }
        }
        if let ttl = r.duration("lease_ttl", in: .seconds(2)...Duration.seconds(300)) { cluster.leaseTTL = ttl }
        // Defaults follow the TTL: renew and time out at a fifth of it, stale after three renewals.
        cluster.renewInterval = r.duration("renew_interval", in: .milliseconds(100)...Duration.seconds(300)) ?? cluster.leaseTTL / 5
        cluster.requestTimeout = r.duration("request_timeout", in: .milliseconds(100)...Duration.seconds(300)) ?? cluster.leaseTTL / 5
        cluster.staleAfter = r.duration("stale_after", in: .milliseconds(200)...Duration.seconds(3600)) ?? cluster.renewInterval * 3
        if let entry = r.table["quorum"] {
            r.markUsed("quorum")
            switch entry.value {
            case .string("majority"): cluster.quorum = .majority
            case .integer(let count) where (1...1000).contains(count): cluster.quorum = .count(count)
            default: r.issue("quorum", "must be \"majority\" or a number of observers from 1 to 1000")
            }
        }
        if let text = r.string("hook") {
            if let placement = ClusterSettings.HookPlacement(rawValue: text) {
                cluster.hook = placement
            } else {
                r.issue("hook", "'\(clip(text, bytes: 40))' is not one of leader, every")
            }
        }
        let tls = ClusterSettings.TLS(caFile: r.nonEmptyString("ca_file"), certFile: r.nonEmptyString("cert_file"), keyFile: r.nonEmptyString("key_file"))
        if (tls.certFile == nil) != (tls.keyFile == nil) { r.issue(tls.certFile == nil ? "cert_file" : "key_file", "cert_file and key_file go together") }
        if tls != ClusterSettings.TLS() { cluster.tls = tls }
        if let problem = cluster.timingProblem { r.issue("lease_ttl", problem) }
        return urls.isEmpty ? nil : cluster
    }

    /// Why `url` cannot be an etcd client URL, or nil.
    static func etcdURLProblem(_ url: String) -> String? {
        let rest: Substring
        if url.hasPrefix("http://") {
            rest = url.dropFirst(7)
        } else if url.hasPrefix("https://") {
            rest = url.dropFirst(8)
        } else {
            return "'\(clip(url, bytes: 80))' is not an etcd client URL such as \"http://10.0.0.1:2379\""
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !authority.contains("/"), HostPort.parse(String(authority)) != nil else {
            return "'\(clip(url, bytes: 80))' needs a host and port and no path, e.g. \"http://10.0.0.1:2379\""
        }
        return nil
    }

    static func hostName() -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let status = buffer.withUnsafeMutableBytes { gethostname($0.baseAddress!.assumingMemoryBound(to: CChar.self), 255) }
        guard status == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }
}
