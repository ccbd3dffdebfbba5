import CSystemd
import Foundation
import Logging

/// A swift-log handler that writes structured entries to the systemd journal.
///
/// Metadata keys in upper case (`MESSAGE_ID`, `REGIOND_REGION`) are sent as
/// they are; other keys become `REGIOND_<KEY>` (`region.id` -> `REGIOND_REGION_ID`).
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String] = [
            "MESSAGE=\(event.message)",
            "PRIORITY=\(Self.priority(event.level))",
            "SYSLOG_IDENTIFIER=regiond",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
            "REGIOND_LOGGER=\(self.label)",
        ]
        let merged = self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new })
        for (key, value) in merged {
            fields.append("\(Self.fieldName(key))=\(value)")
        }
        Self.send(fields)
    }

    static func fieldName(_ key: String) -> String {
        let upper = key.uppercased()
        if upper == key, key.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) {
            return key
        }
        return "REGIOND_" + String(upper.unicodeScalars.map { ("A"..."Z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_" })
    }

    /// `sd_journal_send` is variadic and not callable from Swift: copy every field
    /// into one buffer and hand `sd_journal_sendv` one iovec per field.
    static func send(_ fields: [String]) {
        let total = fields.reduce(0) { $0 + $1.utf8.count }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 1)
        let vectors = UnsafeMutableBufferPointer<iovec>.allocate(capacity: fields.count)
        defer {
            storage.deallocate()
            vectors.deallocate()
        }
        var offset = 0
        for (index, field) in fields.enumerated() {
            let bytes = field.utf8
            let start = storage.baseAddress! + offset
            UnsafeMutableRawBufferPointer(start: start, count: bytes.count).copyBytes(from: bytes)
            vectors[index] = iovec(iov_base: start, iov_len: bytes.count)
            offset += bytes.count
        }
        _ = sd_journal_sendv(vectors.baseAddress, Int32(fields.count))
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}

/// Readable lines on standard error, for a terminal or a supervisor that is not systemd.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let time = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let merged = self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new })
        let extras = merged.filter { $0.key != "MESSAGE_ID" }.sorted(by: { $0.key < $1.key })
            .map { "\(Self.shortKey($0.key))=\(Self.quote("\($0.value)"))" }.joined(separator: " ")
        let line = "\(time) \(event.level) \(event.message)\(extras.isEmpty ? "" : " " + extras)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func shortKey(_ key: String) -> String {
        key.hasPrefix("REGIOND_") ? String(key.dropFirst(8)).lowercased() : key
    }

    static func quote(_ value: String) -> String {
        value.contains(" ") ? "\"\(value)\"" : value
    }
}
