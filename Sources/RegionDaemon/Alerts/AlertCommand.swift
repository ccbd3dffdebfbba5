import Foundation
import RegionCore
import Subprocess

/// One attempt to hand an event to an `[[alert]]` command: the event as JSON on stdin
/// (the same encoding as a `watch` line's `event`), and in the environment.
enum AlertCommand {
    /// Why the attempt failed; nil when the command exited 0 within its timeout.
    static func deliver(_ event: Event, rule: AlertRule) async -> String? {
        let program = rule.command[0]
        let json = (try? ControlProtocol.encoder().encode(event)).map { Array($0) + [UInt8(ascii: "\n")] } ?? []
        do {
            let status = try await BoundedCommand.run(rule.command, environment: Self.environment(event, rule: rule), input: json, timeout: rule.timeout)
            return BoundedCommand.failure(status, program: program, timeout: rule.timeout)
        } catch let error as SubprocessError {
            return "cannot run \(program): \(error.description)"
        } catch {
            return "cannot run \(program): \(error)"
        }
    }

    /// `REGIOND_EVENT_ID`, `_KIND`, `_REGION`, `_MESSAGE`, `_PRIORITY` (a syslog name),
    /// `_TIME` (ISO 8601), each field as `REGIOND_EVENT_FIELD_<KEY>`, and `REGIOND_ALERT`.
    static func environment(_ event: Event, rule: AlertRule) -> [String: String] {
        var environment = [
            "REGIOND_ALERT": rule.name,
            "REGIOND_EVENT_ID": "\(event.id)",
            "REGIOND_EVENT_KIND": event.kind.rawValue,
            "REGIOND_EVENT_REGION": event.region ?? "",
            "REGIOND_EVENT_MESSAGE": event.message,
            "REGIOND_EVENT_PRIORITY": SyslogPriority(rawValue: event.kind.priority)?.name ?? "\(event.kind.priority)",
            "REGIOND_EVENT_TIME": event.time.formatted(.iso8601),
        ]
        for (key, value) in event.fields { environment["REGIOND_EVENT_FIELD_" + journalFieldName(key)] = value }
        return environment
    }
}
