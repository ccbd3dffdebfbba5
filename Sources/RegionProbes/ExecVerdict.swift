import RegionCore

/// Judges a finished command probe from its exit and its standard output. Pure, so the
/// rules are tested as values and the fuzz harness can feed it any output.
public enum ExecVerdict {
    /// How the command ended.
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    /// - Parameters:
    ///   - stdout: the first bytes of standard output (the probe keeps 4 KiB).
    ///   - capacityFromStdout: line 1 is the capacity.
    ///   - lagFromStdout: line 2 is the replication lag in seconds (unreadable: lag unknown,
    ///     the probe still passes).
    public static func judge(_ ending: Ending, stdout: [UInt8], capacityFromStdout: Bool, lagFromStdout: Bool = false) -> ProbeOutcome {
        let text = String(decoding: stdout, as: UTF8.self)
        switch ending {
        case .exited(0):
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
            var capacity: Double?
            if capacityFromStdout {
                let firstLine = lines.first.map(String.init) ?? ""
                guard let parsed = parseCapacity(firstLine) else {
                    return .fail(.exec, "exit 0 but stdout '\(clip(firstLine, bytes: 80))' is not a capacity")
                }
                capacity = parsed
            }
            guard lagFromStdout else { return .pass("exit 0", capacity: capacity) }
            let second = lines.count > 1 ? String(lines[1]) : ""
            guard let lag = parseLag(second) else {
                return .pass("exit 0; lag unknown: line 2 '\(clip(second, bytes: 40))' is not seconds", capacity: capacity)
            }
            return .pass("exit 0", capacity: capacity, lag: lag)
        case .exited(let code):
            let line = text.split(whereSeparator: \.isNewline).first.map { ": \(clip($0, bytes: 120))" } ?? ""
            return .fail(.exec, "exit \(code)\(line)")
        case .signaled(let signal):
            return .fail(.exec, "killed by signal \(signal)")
        }
    }
}
