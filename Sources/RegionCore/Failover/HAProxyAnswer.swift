import FoundationEssentials

/// HAProxy's runtime API answers, read as outside input: every number is checked, and
/// anything unexpected is an error that says what was expected, never a trap.
public enum HAProxyAnswer {
    public struct Malformed: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The non-empty lines of an answer to commands that print nothing when they work
    /// (`set weight`, `set server`): each is a refusal, in HAProxy's words.
    public static func complaints(_ answer: String) -> [String] {
        answer.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces }.filter { !$0.isEmpty }
    }

    /// What `show info` says about the running process.
    public struct Info: Sendable, Equatable {
        public var pid: Int
        public var uptimeSeconds: Int
        /// Wall-clock start, in seconds since 1970, when this HAProxy reports it.
        public var startTime: Int?
        public var version: String
    }

    /// Reads `show info`: `Name: value` lines; `Pid` and `Uptime_sec` are required.
    public static func info(_ answer: String) -> Result<Info, Malformed> {
        var fields: [Substring: Substring] = [:]
        for line in answer.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...].drop { $0 == " " }
        }
        guard let pidText = fields["Pid"], let pid = Int(pidText), (1...Int(Int32.max)).contains(pid) else {
            return .failure(Malformed(description: "show info has no valid Pid (got '\(clip(fields["Pid"] ?? "", bytes: 32))')"))
        }
        guard let uptimeText = fields["Uptime_sec"], let uptime = Int(uptimeText), uptime >= 0 else {
            return .failure(Malformed(description: "show info has no valid Uptime_sec (got '\(clip(fields["Uptime_sec"] ?? "", bytes: 32))')"))
        }
        let start = fields["Start_time_sec"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        return .success(Info(pid: pid, uptimeSeconds: uptime, startTime: start, version: clip(fields["Version"] ?? "", bytes: 64)))
    }

    /// One server in `show servers state`.
    public struct ServerState: Sendable, Equatable {
        public var backend: String
        public var server: String
        /// `srv_admin_state` bits: 0x1 forced maintenance, 0x8 forced drain (`set server ... state drain`).
        public var adminState: Int
        /// The weight in force (`srv_uweight`) and the one from haproxy.cfg (`srv_iweight`).
        public var weight: Int
        public var initialWeight: Int

        public var isDraining: Bool { self.adminState & 0x8 != 0 }
        public var isInMaintenance: Bool { self.adminState & 0x1 != 0 }
    }

    /// Reads `show servers state`: a version line, a `#` header naming the columns, one line per server.
    public static func serversState(_ answer: String) -> Result<[ServerState], Malformed> {
        var columns: [Substring: Int] = [:]
        var servers: [ServerState] = []
        for line in answer.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("#") {
                for (index, name) in line.dropFirst().split(separator: " ").enumerated() { columns[name] = index }
                continue
            }
            let values = line.split(separator: " ")
            guard values.count > 1 else { continue }  // the version line
            guard let backend = columns["be_name"], let server = columns["srv_name"], let admin = columns["srv_admin_state"],
                let weight = columns["srv_uweight"], let initial = columns["srv_iweight"]
            else { return .failure(Malformed(description: "show servers state has no column header naming be_name, srv_name, srv_admin_state, srv_uweight, srv_iweight")) }
            func number(_ column: Int, _ name: String, in range: ClosedRange<Int>) -> Result<Int, Malformed> {
                guard column < values.count, let value = Int(values[column]), range.contains(value) else {
                    return .failure(Malformed(description: "show servers state: \(name) of '\(clip(line, bytes: 80))' is not a number in \(range)"))
                }
                return .success(value)
            }
            guard backend < values.count, server < values.count else {
                return .failure(Malformed(description: "show servers state: line '\(clip(line, bytes: 80))' has too few columns"))
            }
            do {
                servers.append(
                    ServerState(
                        backend: String(values[backend]), server: String(values[server]),
                        adminState: try number(admin, "srv_admin_state", in: 0...0xFFFF).get(),
                        weight: try number(weight, "srv_uweight", in: 0...HAProxyWeights.maximum).get(),
                        initialWeight: try number(initial, "srv_iweight", in: 0...HAProxyWeights.maximum).get()))
            } catch {
                return .failure(error)
            }
        }
        return .success(servers)
    }

    /// One server line of `show stat`.
    public struct ServerStat: Sendable, Equatable {
        public var backend: String
        public var server: String
        /// Sessions open on the server now (`scur`).
        public var currentSessions: Int
        public var status: String
    }

    /// Reads `show stat` (CSV with a `# pxname,svname,...` header); frontends and backend totals are skipped.
    public static func stat(_ answer: String) -> Result<[ServerStat], Malformed> {
        var columns: [Substring: Int] = [:]
        var servers: [ServerStat] = []
        for line in answer.split(whereSeparator: \.isNewline) {
            let values = line.split(separator: ",", omittingEmptySubsequences: false)
            if line.hasPrefix("# ") {
                for (index, name) in line.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).enumerated() { columns[name] = index }
                continue
            }
            guard let px = columns["pxname"], let sv = columns["svname"], let scur = columns["scur"], let status = columns["status"] else {
                return .failure(Malformed(description: "show stat has no header naming pxname, svname, scur, status"))
            }
            guard values.count > max(px, sv, scur, status) else { continue }
            let name = values[sv]
            guard name != "FRONTEND", name != "BACKEND" else { continue }
            guard let sessions = Int(values[scur]), sessions >= 0 else {
                return .failure(Malformed(description: "show stat: scur of \(clip(values[px], bytes: 64))/\(clip(name, bytes: 64)) is '\(clip(values[scur], bytes: 32))', not a count"))
            }
            servers.append(ServerStat(backend: String(values[px]), server: String(name), currentSessions: sessions, status: String(values[status])))
        }
        return .success(servers)
    }
}
