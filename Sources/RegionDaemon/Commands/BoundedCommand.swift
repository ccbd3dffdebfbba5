import Foundation
import RegionCore
import Subprocess
import SystemPackage

/// Runs an operator's command (`[hook]`, `[[alert]]`) with a deadline: in its own
/// process group, with extra environment, its output and errors going to regiond's own
/// (so under systemd they land in the journal next to regiond's lines). At the deadline
/// the whole group is killed, so a script's children die with it.
enum BoundedCommand {
    /// How the command ended; nil when it was killed at the deadline.
    /// - Parameter input: its standard input; nil: none.
    static func run(_ command: [String], environment: [String: String], input: [UInt8]? = nil, timeout: Duration) async throws -> TerminationStatus? {
        let program = command[0]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        let overrides = Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), Optional($0.value)) })
        var platform = PlatformOptions()
        platform.processGroupID = 0
        platform.teardownSequence = [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(200))]
        let options = platform
        return try await withThrowingTaskGroup(of: TerminationStatus?.self) { group in
            group.addTask {
                let arguments = Arguments(Array(command.dropFirst()))
                if let input {
                    return try await Subprocess.run(
                        executable, arguments: arguments, environment: .inherit.updating(overrides), platformOptions: options,
                        input: .array(input), output: .currentStandardOutput, error: .currentStandardError
                    ).terminationStatus
                }
                return try await Subprocess.run(
                    executable, arguments: arguments, environment: .inherit.updating(overrides), platformOptions: options,
                    input: .none, output: .currentStandardOutput, error: .currentStandardError
                ).terminationStatus
            }
            group.addTask {
                // The deadline; nil either way (expired, or cancelled because the command ended).
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    /// Why a run did not succeed, in words for a log line or an event; nil for exit 0.
    static func failure(_ status: TerminationStatus?, program: String, timeout: Duration) -> String? {
        switch status {
        case .exited(0): nil
        case .exited(let code): "\(program) exited \(code) (its output is in regiond's log)"
        case .signaled(let signal): "\(program) was killed by signal \(signal)"
        case nil: "\(program) did not finish within \(formatDuration(timeout)); killed with its process group"
        }
    }
}
