import RegionCore

/// Judges a finished command probe from its exit and its standard output. Pure, so the
/// rules are tested as values and the fuzz harness can feed it any output.
public enum ExecVerdict {
    /// How the command ended.
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    /// - Parameter stdout: the first bytes of standard output (the probe keeps 4 KiB).
    public static func judge(_ ending: Ending, stdout: [UInt8], capacityFromStdout: Bool) -> ProbeOutcome {
        let text = String(decoding: stdout, as: UTF8.self)
        switch ending {
        case .exited(0):
            guard capacityFromStdout else { return .pass("exit 0") }
            let firstLine = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            guard let capacity = parseCapacity(firstLine) else {
                return .fail(.exec, "exit 0 but stdout '\(clip(firstLine, bytes: 80))' is not a capacity")
            }
            return .pass("exit 0", capacity: capacity)
        case .exited(let code):
            let line = text.split(whereSeparator: \.isNewline).first.map { ": \(clip($0, bytes: 120))" } ?? ""
            return .fail(.exec, "exit \(code)\(line)")
        case .signaled(let signal):
            return .fail(.exec, "killed by signal \(signal)")
        }
    }
}
