import ArgumentParser
import Foundation
import Logging
import RegionCore
import RegionDaemon

@main
struct RegiondCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regiond",
        abstract: "Watch every region's endpoints and report which regions are healthy.",
        discussion: """
            regiond probes the endpoints of each region in its configuration (HTTP/HTTPS, TCP, \
            command), turns the results into a status per region (healthy, degraded, unhealthy, \
            unknown) with hysteresis, and answers on a Unix control socket (see regionctl(1)).

            Under systemd it speaks sd_notify (READY, STATUS, WATCHDOG, RELOADING, STOPPING) and \
            logs structured entries to the journal. SIGHUP or `regionctl reload` re-reads the \
            configuration; a bad file is rejected and the running configuration stays.

            Alone it needs nothing but itself (an embedded SQLite database). With a [cluster] \
            section, several instances agree through etcd: a quorum of observers judges each \
            region and one elected leader decides (docs/cluster.md).

            Exit status: 0 clean stop, 1 runtime failure, 64 bad usage, 69 control socket in use \
            by another regiond, 73 cannot create the socket, 78 invalid configuration.
            """,
        version: RegiondVersion.string,
        subcommands: [Run.self, CheckConfig.self],
        defaultSubcommand: Run.self
    )
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon in the foreground (the default)."
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Configuration file.", valueName: "file"))
    var config: String = "/etc/regiond/regiond.toml"

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String = ProcessInfo.processInfo.environment["REGIOND_LOG_LEVEL"] ?? "info"

    func validate() throws {
        guard Logger.Level(rawValue: self.logLevel) != nil else {
            throw ValidationError("'\(self.logLevel)' is not a log level; use trace, debug, info, notice, warning or error")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        let toJournal = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = toJournal ? JournalLogHandler(label: label) : StderrLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "regiond")
        let status = await Daemon.run(configPath: self.config, logger: logger)
        if status != ExitStatus.ok { throw ExitCode(status) }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file and exit: 0 if valid, 78 if not.",
        discussion: """
            Prints every problem as FILE:LINE: KEY: message, then a summary of what the file \
            configures. Warnings (a setting that cannot have the effect it seems to, such as a \
            latency threshold above every probe timeout) are printed too but do not fail the check.
            """
    )

    @Argument(help: ArgumentHelp("Configuration file.", valueName: "file"))
    var file: String = "/etc/regiond/regiond.toml"

    func run() throws {
        do {
            let config = try ConfigLoader.load(path: self.file)
            let endpoints = config.regions.reduce(0) { $0 + $1.endpoints.count }
            var stderr = FileHandle.standardError
            for warning in ConfigAdvice.warnings(config, file: self.file) { print(warning.description, to: &stderr) }
            var summary = "\(self.file): OK: \(config.regions.count) regions, \(endpoints) endpoints, control socket \(config.daemon.controlSocket)"
            if let cluster = config.cluster {
                summary += "; cluster: observer \(cluster.name), \(cluster.etcd.count) etcd endpoint\(cluster.etcd.count == 1 ? "" : "s"), prefix \(cluster.prefix), quorum \(cluster.quorum), lease \(formatDuration(cluster.leaseTTL)) renewed every \(formatDuration(cluster.renewInterval))"
            }
            print(summary)
        } catch {
            var stderr = FileHandle.standardError
            for issue in error.issues { print(issue.description, to: &stderr) }
            print("\(self.file): \(error.issues.count) problem\(error.issues.count == 1 ? "" : "s") found", to: &stderr)
            throw ExitCode(ExitStatus.config)
        }
    }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) {
        self.write(Data(string.utf8))
    }
}
