import Foundation
import RegionCore
import Subprocess

/// Runs the `[hook]` command for one plan, with the plan in its environment
/// (``BoundedCommand``). Exit 0 within the timeout means applied.
enum PlanHookCommand {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ hook: PlanHook, environment: [String: String]) async throws {
        let program = hook.command[0]
        let status: TerminationStatus?
        do {
            status = try await BoundedCommand.run(hook.command, environment: environment, timeout: hook.timeout)
        } catch let error as SubprocessError {
            throw Failure(description: "cannot run hook \(program): \(error.description)")
        }
        if let failure = BoundedCommand.failure(status, program: "hook \(program)", timeout: hook.timeout) {
            throw Failure(description: failure)
        }
    }
}
