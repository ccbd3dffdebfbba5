import ArgumentParser
import FoundationEssentials
import Glibc
import RegionCore

/// `--socket` and `--json`, and one request/reply exchange with exit statuses that mean something.
struct ClientOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Control socket of regiond.", valueName: "path"))
    var socket: String = ProcessInfo.processInfo.environment["REGIOND_SOCKET"] ?? ControlProtocol.defaultSocketPath

    @Flag(help: "Print the daemon's JSON reply instead of a table.")
    var json = false

    /// Sends one request and decodes the reply, or exits with a meaningful status.
    /// With `--json` it prints the reply as regiond sent it and returns nil (an error
    /// reply still exits non-zero); the result is then not decoded, which for a
    /// thousand regions is most of the command's time.
    func call<T: Codable & Sendable>(_ request: ControlRequest, as type: T.Type) throws -> T? {
        let line = try self.exchange(request)
        if self.json {
            _ = try Self.decode(line, as: Unread.self)
            printJSON(line)
            return nil
        }
        return try Self.decode(line, as: type)
    }

    /// One request, one reply line. A regiond that stops (a restart, an upgrade) closes
    /// the connections it has not answered; a request that changes nothing is then sent
    /// again, and under regiond.socket the new connection waits in systemd's socket for
    /// the next regiond. A state-changing request is not repeated (it may have been
    /// done): its error says so.
    func exchange(_ request: ControlRequest) throws -> Data {
        let repeatable = ControlCommand(rawValue: request.cmd).map { !$0.mutatesState } ?? false
        var attempt = 1
        while true {
            var client: ControlClient
            do {
                client = try ControlClient(path: self.socket)
            } catch {
                throw fail(error.message, error.exitCode)
            }
            defer { client.close() }
            let lost: String
            do {
                try client.send(request)
                if let line = try client.readLine() { return line }
                lost = "regiond closed the connection without answering"
            } catch where error.exitCode == 69 {
                lost = error.message  // the connection broke (EPIPE, ECONNRESET)
            } catch {
                throw fail(error.message, error.exitCode)
            }
            guard repeatable, attempt < Self.attempts else {
                throw fail(repeatable ? lost : "\(lost); it may be restarting, and the command may or may not have been done: check with `regionctl history`", 69)
            }
            attempt += 1
        }
    }

    /// How often a request that changes nothing is sent before giving up.
    static let attempts = 5

    /// A result that is checked for presence but not read.
    struct Unread: Codable, Sendable {
        init(from decoder: any Decoder) throws {}
        func encode(to encoder: any Encoder) throws {}
    }

    static func decode<T: Codable & Sendable>(_ line: Data, as type: T.Type) throws -> T {
        let reply: ControlReply<T>
        do {
            reply = try ControlProtocol.decoder().decode(ControlReply<T>.self, from: line)
        } catch {
            throw fail("unexpected reply from regiond: \(String(decoding: line.prefix(200), as: UTF8.self))", 1)
        }
        if let error = reply.error {
            throw fail("\(error.message) [\(error.code.rawValue)]", Self.exitCode(error.code))
        }
        guard let result = reply.result else { throw fail("regiond sent an empty reply", 1) }
        return result
    }
}

extension ClientOptions {
    /// The exit status for an error reply (see `regionctl --help`).
    static func exitCode(_ code: ControlError.Code) -> Int32 {
        switch code {
        case .permissionDenied: 77
        case .rateLimited, .notLeader, .unavailable: 75
        default: 1
        }
    }
}

func fail(_ message: String, _ code: Int32) -> ExitCode {
    writeAll(STDERR_FILENO, "regionctl: \(message)\n")
    return ExitCode(code)
}

/// Writes the whole text to a descriptor now, past stdio's buffer.
func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }  // a closed pipe: nobody is reading
        bytes = bytes.dropFirst(written)
    }
}

func printJSON(_ data: Data) {
    print(String(decoding: data, as: UTF8.self))
}
