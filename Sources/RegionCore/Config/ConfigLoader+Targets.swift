import FoundationEssentials

/// `[[haproxy]]` and `[hook]`: where committed plans are applied.
extension ConfigLoader {
    /// One `[haproxy]` table, or several `[[haproxy]]` sections (each with a distinct `name`).
    static func readHAProxies(_ root: inout TableReader) -> [HAProxySettings] {
        self.readNamedSections(&root, "haproxy", name: \.name) { reader, _, count in self.readHAProxy(&reader, several: count > 1) }
    }

    /// `[KEY]` or `[[KEY]]` sections, each read by `read` (given its reader, its 1-based
    /// number and how many there are); two with the same name are an error at the second.
    static func readNamedSections<T>(
        _ root: inout TableReader, _ key: String, name: (T) -> String, read: (inout TableReader, Int, Int) -> T?
    ) -> [T] {
        guard root.has(key) else { return [] }
        var readers: [TableReader]
        if case .tableArray? = root.table[key]?.value {
            readers = root.tables(key) ?? []
        } else {
            readers = root.table(key).map { [$0] } ?? []
        }
        var result: [T] = []
        var names: [String: Int] = [:]
        for index in readers.indices {
            if let section = read(&readers[index], index + 1, readers.count) {
                if let first = names[name(section)] {
                    readers[index].issue("name", "another [[\(key)]] (on line \(first)) has the name '\(name(section))'; give each a different name")
                } else {
                    names[name(section)] = readers[index].line(of: "name")
                    result.append(section)
                }
            }
            root.absorb(readers[index])
        }
        return result
    }

    static func readHAProxy(_ r: inout TableReader, several: Bool) -> HAProxySettings? {
        let name = r.nonEmptyString("name") ?? ""
        if !name.isEmpty, !self.isValidName(name) { r.issue("name", "'\(name)' may only use letters, digits, '-', '_' and '.' (64 at most)") }
        if several, !r.has("name") { r.issue("name", "with more than one [[haproxy]], each needs a name, e.g. name = \"edge-1\"") }
        let socket = r.nonEmptyString("socket")
        if !r.has("socket") { r.issue("socket", "[haproxy] needs the runtime API socket, e.g. socket = \"/run/haproxy/admin.sock\"") }
        if let socket, !socket.hasPrefix("/") { r.issue("socket", "must be an absolute path") }
        let backend = r.nonEmptyString("backend")
        if !r.has("backend") { r.issue("backend", "[haproxy] needs the backend whose servers are the regions, e.g. backend = \"app\"") }
        let timeout = r.duration("timeout", in: .milliseconds(10)...Duration.seconds(60)) ?? .seconds(2)
        let reapply = r.duration("reapply_interval", in: .seconds(1)...Duration.seconds(86_400)) ?? .seconds(30)
        let watch = r.duration("watch_interval", in: .zero...Duration.seconds(3600)) ?? .milliseconds(500)
        if watch > .zero, watch < .milliseconds(100) { r.issue("watch_interval", "\(formatDuration(watch)) is too often; use 0 (off) or 100ms to 1h") }
        let stateFile = r.nonEmptyString("state_file")
        if let stateFile, !stateFile.hasPrefix("/") { r.issue("state_file", "must be an absolute path, the one haproxy.cfg names in server-state-file") }
        var zeroShare = ZeroShare.weight
        if let text = r.string("zero_share") {
            if let style = ZeroShare(rawValue: text) { zeroShare = style } else { r.issue("zero_share", "'\(text)' is not one of weight, drain") }
        }
        var servers: [String: String] = [:]
        if var table = r.table("servers") {
            for key in table.table.keys {
                if let server = table.nonEmptyString(key) { servers[key] = server }
            }
            r.absorb(table)
        }
        guard let socket, socket.hasPrefix("/"), let backend else { return nil }
        return HAProxySettings(
            name: name, socket: socket, backend: backend, timeout: timeout, reapplyInterval: reapply, watchInterval: watch,
            stateFile: stateFile.flatMap { $0.hasPrefix("/") ? $0 : nil }, zeroShare: zeroShare, servers: servers)
    }

    static func readHook(_ r: inout TableReader) -> PlanHook? {
        let command = r.stringArray("command")
        if !r.has("command") { r.issue("command", "[hook] needs the command to run, e.g. command = [\"/usr/local/bin/apply-plan\"]") }
        let timeout = r.duration("timeout", in: .milliseconds(100)...Duration.seconds(600)) ?? .seconds(10)
        guard let command else { return nil }
        guard let program = command.first, !program.isEmpty else {
            r.issue("command", "give the command as an array, e.g. command = [\"/usr/local/bin/apply-plan\", \"--dns\"]")
            return nil
        }
        return PlanHook(command: command, timeout: timeout)
    }
}
