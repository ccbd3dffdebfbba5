/// A TOML table that remembers the line of every key.
///
/// regiond reads its own configuration with ``TOMLDocument`` so that every error can
/// name the file, the line and the key (a general TOML library keeps no lines).
public struct TOMLTable: Sendable, Equatable {
    /// One key of a table: its value and the line it was written on.
    public struct Entry: Sendable, Equatable {
        public var value: TOMLValue
        public var line: Int

        public init(value: TOMLValue, line: Int) {
            self.value = value
            self.line = line
        }
    }

    /// Entries in the order they were written.
    public private(set) var entries: [(key: String, entry: Entry)] = []
    /// Position of each key in `entries`: lookups are O(1), not a scan.
    private var index: [String: Int] = [:]
    /// The line of the table header (`[name]`), or 0 for the root table.
    public var line: Int

    public init(line: Int = 0) {
        self.line = line
    }

    public subscript(key: String) -> Entry? {
        self.index[key].map { self.entries[$0].entry }
    }

    public var keys: [String] { self.entries.map(\.key) }

    mutating func set(_ key: String, _ entry: Entry) {
        if let position = self.index[key] {
            self.entries[position].entry = entry
        } else {
            self.index[key] = self.entries.count
            self.entries.append((key, entry))
        }
    }

    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool {
        lhs.line == rhs.line && lhs.entries.elementsEqual(rhs.entries, by: { $0.key == $1.key && $0.entry == $1.entry })
    }
}

/// A TOML value.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    case array([TOMLValue])
    /// A `[table]` or an inline `{ ... }` table.
    case table(TOMLTable)
    /// An array of tables written as `[[name]]`.
    case tableArray([TOMLTable])

    /// The name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .bool: "boolean"
        case .array: "array"
        case .table: "table"
        case .tableArray: "array of tables"
        }
    }
}

/// A syntax error in a TOML document, with the line it was found on.
public struct TOMLSyntaxError: Error, Sendable, Equatable {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// Parses TOML text into a ``TOMLTable``.
///
/// TOML 1.0, with the same rules about defining tables that Python's `tomllib`
/// enforces (a test compares the two on generated and hand-written documents),
/// except two features regiond has no use for, which are rejected with their line:
/// dates and times, and integers that do not fit in 64 bits.
public struct TOMLDocument: Sendable {
    public var root: TOMLTable

    public init(parsing text: String) throws(TOMLSyntaxError) {
        var parser = TOMLParser(text: text)
        self.root = try parser.parseDocument()
    }
}
