extension ConfigLoader {
    /// `[[alert]]` sections (a single `[alert]` is taken as one).
    static func readAlerts(_ root: inout TableReader) -> [AlertRule] {
        self.readNamedSections(&root, "alert", name: \.name) { reader, number, _ in self.readAlert(&reader, number: number) }
    }

    static func readAlert(_ r: inout TableReader, number: Int) -> AlertRule? {
        let name = r.nonEmptyString("name") ?? "alert-\(number)"
        if !self.isValidName(name) { r.issue("name", "'\(name)' may only use letters, digits, '-', '_' and '.' (64 at most)") }
        let command = r.stringArray("command")
        if !r.has("command") { r.issue("command", "[[alert]] needs the command to run, e.g. command = [\"/usr/share/regiond/alert-webhook\", \"https://hooks.example/regiond\"]") }
        var kinds = AlertRule.defaultKinds
        if let names = r.stringArray("kinds") {
            var chosen: Set<EventKind> = []
            for text in names {
                if let kind = EventKind(rawValue: text), kind != .alertFailed {
                    chosen.insert(kind)
                } else {
                    let known = EventKind.allCases.filter { $0 != .alertFailed }.map(\.rawValue).joined(separator: ", ")
                    r.issue("kinds", "'\(clip(text, bytes: 40))' is not an event kind regiond alerts on; use some of: \(known)")
                }
            }
            if names.isEmpty { r.issue("kinds", "an empty list would never alert; leave kinds out for the default set") }
            kinds = chosen
        }
        var minPriority = SyslogPriority.warning
        if let text = r.string("min_priority") {
            if let priority = SyslogPriority(name: text) {
                minPriority = priority
            } else {
                r.issue("min_priority", "'\(clip(text, bytes: 40))' is not a priority; use one of \(SyslogPriority.allCases.map(\.name).joined(separator: ", "))")
            }
        }
        let timeout = r.duration("timeout", in: .milliseconds(100)...Duration.seconds(300)) ?? .seconds(10)
        let retries = r.int("retries", in: 0...10) ?? 2
        let rateLimit = r.duration("rate_limit", in: .zero...Duration.seconds(86_400)) ?? .seconds(60)
        guard let command else { return nil }
        guard let program = command.first, !program.isEmpty else {
            r.issue("command", "give the command as an array, e.g. command = [\"/usr/share/regiond/alert-webhook\", \"https://hooks.example/regiond\"]")
            return nil
        }
        return AlertRule(name: name, command: command, kinds: kinds, minPriority: minPriority, timeout: timeout, retries: retries, rateLimit: rateLimit)
    }
}
