import Foundation
import RegionCore
import Subprocess
import SystemPackage

/// Runs a command as a probe: exit status 0 passes.
///
/// The command runs in its own process group; when the probe is cancelled (its
/// timeout passed) the whole group is killed, so a script's children die with it.
enum ExecProbe {
    /// At most this much standard output is read.
    static let outputLimit = 4096

    static func run(_ check: ExecCheck, timeout: Duration) async -> ProbeOutcome {
        let program = check.arguments[0]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var options = PlatformOptions()
        options.processGroupID = 0
        options.teardownSequence = [.send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(200))]
        do {
            let result = try await Subprocess.run(
                executable,
                arguments: Arguments(Array(check.arguments.dropFirst())),
                platformOptions: options,
                input: .none,
                output: .sequence,
                error: .discarded
            ) { execution in
                // Keep the first outputLimit bytes and read the rest to the end, so a
                // chatty command is neither blocked on a full pipe nor failed for talking.
                var kept: [UInt8] = []
                for try await chunk in execution.standardOutput where kept.count < Self.outputLimit {
                    chunk.withUnsafeBytes { kept.append(contentsOf: $0.prefix(Self.outputLimit - kept.count)) }
                }
                return kept
            }
            if Task.isCancelled { return .fail(.timeout, "no answer within \(formatDuration(timeout))") }
            let ending: ExecVerdict.Ending
            switch result.terminationStatus {
            case .exited(let code): ending = .exited(code)
            case .signaled(let signal): ending = .signaled(signal)
            }
            return ExecVerdict.judge(ending, stdout: result.closureResult, capacityFromStdout: check.capacityFromStdout, lagFromStdout: check.lagFromStdout)
        } catch {
            if Task.isCancelled { return .fail(.timeout, "no answer within \(formatDuration(timeout))") }
            if let error = error as? SubprocessError {
                // regiond's own shortage (descriptors, processes) says nothing about the region.
                let shortages: [Errno] = [.tooManyOpenFiles, .tooManyOpenFilesInSystem, .resourceTemporarilyUnavailable, .noMemory]
                if let errno = error.underlyingError, shortages.contains(errno) {
                    return .fail(.local, "regiond cannot start \(program): \(errno)")
                }
                return .fail(.exec, "\(program): \(error.description)")
            }
            return .fail(.exec, "\(program): \(error)")
        }
    }
}
