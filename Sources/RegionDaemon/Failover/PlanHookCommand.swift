import Foundation
import RegionCore
import Subprocess
import SystemPackage

/// Runs the `[hook]` command for one plan.
///
/// The command runs in its own process group with the plan in its environment; its
/// standard output and error are regiond's own (so under systemd they land in the
/// journal next to regiond's lines). Exit 0 within the timeout means applied. At the
/// timeout the whole group is killed, so a script's children die with it.
enum PlanHookCommand {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ hook: PlanHook, environment: [String: String]) async throws {
        let program = hook.command[0]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        let overrides = Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), Optional($0.value)) })
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(200))]
        let status: TerminationStatus?
        do {
            status = try await Self.run(executable, hook: hook, overrides: overrides, options: options)
        } catch let error as SubprocessError {
            throw Failure(description: "cannot run hook \(program): \(error.description)")
        }
        switch status {
        case .exited(0): return
        case .exited(let code): throw Failure(description: "hook \(program) exited \(code) (its output is in regiond's log)")
        case .signaled(let signal): throw Failure(description: "hook \(program) was killed by signal \(signal)")
        case nil: throw Failure(description: "hook \(program) did not finish within \(formatDuration(hook.timeout)); killed with its process group")
        }
    }

    /// The command's termination status, or nil when it was killed at the timeout.
    private static func run(
        _ executable: Executable, hook: PlanHook, overrides: [Environment.Key: String?], options: PlatformOptions
    ) async throws -> TerminationStatus? {
        let timeout = hook.timeout
        return try await withThrowingTaskGroup(of: TerminationStatus?.self) { group in
            group.addTask {
                try await Subprocess.run(
                    executable, arguments: Arguments(Array(hook.command.dropFirst())), environment: .inherit.updating(overrides),
                    platformOptions: options, output: .currentStandardOutput, error: .currentStandardError
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
}
