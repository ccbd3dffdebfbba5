import Foundation

/// A small TOML reader that remembers the line of every key.
///
/// regiond reads its own configuration with it so that every error can name
/// the file, the line and the key. It supports the TOML that a regiond config
/// uses: comments, `[tables]`, `[[arrays.of.tables]]`, dotted table names,
/// basic and literal strings, integers, floats, booleans, arrays (also over
/// several lines) and inline tables. Dates and multi-line strings are not
/// supported and are reported as errors with their line.
public struct TOMLTable: Sendable, Equatable {
    /// One key of a table: its value and the line it was written on.
    public struct Entry: Sendable, Equatable {
        public var value: TOMLValue
        public var line: Int
    }

    /// Entries in the order they were written.
    public private(set) var entries: [(key: String, entry: Entry)] = []
    /// The line of the table header (`[name]`), or 0 for the root table.
    public var line: Int

    public init(line: Int = 0) {
        self.line = line
    }

    public subscript(key: String) -> Entry? {
        self.entries.first(where: { $0.key == key })?.entry
    }

    public var keys: [String] { self.entries.map(\.key) }

    mutating func set(_ key: String, _ entry: Entry) {
        if let index = self.entries.firstIndex(where: { $0.key == key }) {
            self.entries[index].entry = entry
        } else {
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
}

/// Parses TOML text into a ``TOMLTable``.
public struct TOMLDocument: Sendable {
    public var root: TOMLTable

    public init(parsing text: String) throws(TOMLSyntaxError) {
        var parser = Parser(text: text)
        self.root = try parser.parseDocument()
    }
}

private struct Parser {
    let scalars: [Unicode.Scalar]
    var index = 0
    var line = 1

    init(text: String) {
        self.scalars = Array(text.unicodeScalars)
    }

    var current: Unicode.Scalar? { self.index < self.scalars.count ? self.scalars[self.index] : nil }

    func fail(_ message: String, line: Int? = nil) -> TOMLSyntaxError {
        TOMLSyntaxError(line: line ?? self.line, message: message)
    }

    mutating func advance() {
        if self.current == "\n" { self.line += 1 }
        self.index += 1
    }

    mutating func skipSpaces() {
        while let c = self.current, c == " " || c == "\t" { self.advance() }
    }

    /// Skips spaces, comments and newlines (inside arrays).
    mutating func skipWhitespaceAndComments() {
        while let c = self.current {
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                self.advance()
            } else if c == "#" {
                while let d = self.current, d != "\n" { self.advance() }
            } else {
                return
            }
        }
    }

    /// After a value: only spaces and an optional comment may follow on the line.
    mutating func expectEndOfLine() throws(TOMLSyntaxError) {
        self.skipSpaces()
        if self.current == "#" {
            while let d = self.current, d != "\n" { self.advance() }
        }
        if self.current == "\r" { self.advance() }
        guard self.current == nil || self.current == "\n" else {
            throw self.fail("unexpected '\(self.current!)' after the value; put one key = value on each line")
        }
    }

    mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        var root = TOMLTable()
        // The path of the table that keys are currently written into.
        var currentPath: [PathStep] = []
        var definedTables: Set<String> = []
        while true {
            self.skipWhitespaceAndComments()
            guard let c = self.current else { break }
            let lineOfItem = self.line
            if c == "[" {
                self.advance()
                let isArray = self.current == "["
                if isArray { self.advance() }
                self.skipSpaces()
                let names = try self.parseKeyPath()
                self.skipSpaces()
                guard self.current == "]" else { throw self.fail("expected ']' to close the table header") }
                self.advance()
                if isArray {
                    guard self.current == "]" else { throw self.fail("expected ']]' to close the array-of-tables header") }
                    self.advance()
                }
                try self.expectEndOfLine()
                if isArray {
                    currentPath = try Self.appendTable(to: &root, names: names, line: lineOfItem)
                } else {
                    let name = names.joined(separator: ".")
                    guard !definedTables.contains(name) else {
                        throw self.fail("table [\(name)] is defined twice", line: lineOfItem)
                    }
                    definedTables.insert(name)
                    currentPath = try Self.ensureTable(in: &root, names: names, line: lineOfItem)
                }
            } else {
                let keys = try self.parseKeyPath()
                self.skipSpaces()
                guard self.current == "=" else { throw self.fail("expected '=' after key '\(keys.joined(separator: "."))'") }
                self.advance()
                self.skipSpaces()
                let value = try self.parseValue()
                try self.expectEndOfLine()
                try Self.insert(value, keys: keys, line: lineOfItem, at: currentPath, in: &root)
            }
        }
        return root
    }

    enum PathStep { case key(String), lastOfArray(String) }

    static func ensureTable(in root: inout TOMLTable, names: [String], line: Int) throws(TOMLSyntaxError) -> [PathStep] {
        var path: [PathStep] = []
        for name in names {
            let step = try Self.withTable(at: path, in: &root, line: line) { (table: inout TOMLTable) throws(TOMLSyntaxError) -> PathStep in
                switch table[name]?.value {
                case nil:
                    table.set(name, .init(value: .table(TOMLTable(line: line)), line: line))
                    return .key(name)
                case .table:
                    return .key(name)
                case .tableArray:
                    return .lastOfArray(name)
                case .some(let other):
                    throw TOMLSyntaxError(line: line, message: "'\(name)' is already a \(other.typeName), not a table")
                }
            }
            path.append(step)
        }
        return path
    }

    static func appendTable(to root: inout TOMLTable, names: [String], line: Int) throws(TOMLSyntaxError) -> [PathStep] {
        var path = try Self.ensureTable(in: &root, names: Array(names.dropLast()), line: line)
        let last = names.last!
        try Self.withTable(at: path, in: &root, line: line) { (table: inout TOMLTable) throws(TOMLSyntaxError) in
            switch table[last]?.value {
            case nil:
                table.set(last, .init(value: .tableArray([TOMLTable(line: line)]), line: line))
            case .tableArray(var tables):
                tables.append(TOMLTable(line: line))
                table.set(last, .init(value: .tableArray(tables), line: table[last]!.line))
            case .some(let other):
                throw TOMLSyntaxError(line: line, message: "'\(last)' is already a \(other.typeName), not an array of tables")
            }
        }
        path.append(.lastOfArray(last))
        return path
    }

    static func insert(_ value: TOMLValue, keys: [String], line: Int, at path: [PathStep], in root: inout TOMLTable) throws(TOMLSyntaxError) {
        var fullPath = path
        if keys.count > 1 {
            // Dotted keys create (or extend) sub-tables of the current table.
            for name in keys.dropLast() {
                try Self.withTable(at: fullPath, in: &root, line: line) { (table: inout TOMLTable) throws(TOMLSyntaxError) in
                    switch table[name]?.value {
                    case nil: table.set(name, .init(value: .table(TOMLTable(line: line)), line: line))
                    case .table: break
                    case .some(let other):
                        throw TOMLSyntaxError(line: line, message: "'\(name)' is already a \(other.typeName), not a table")
                    }
                }
                fullPath.append(.key(name))
            }
        }
        let key = keys.last!
        try Self.withTable(at: fullPath, in: &root, line: line) { (table: inout TOMLTable) throws(TOMLSyntaxError) in
            if let existing = table[key] {
                throw TOMLSyntaxError(line: line, message: "key '\(key)' is set twice (first on line \(existing.line))")
            }
            table.set(key, .init(value: value, line: line))
        }
    }

    @discardableResult
    static func withTable<R>(
        at path: [PathStep],
        in table: inout TOMLTable,
        line: Int,
        _ body: (inout TOMLTable) throws(TOMLSyntaxError) -> R
    ) throws(TOMLSyntaxError) -> R {
        guard let step = path.first else { return try body(&table) }
        let rest = Array(path.dropFirst())
        switch step {
        case .key(let name):
            guard let entry = table[name], case .table(var sub) = entry.value else {
                throw TOMLSyntaxError(line: line, message: "'\(name)' is not a table")
            }
            let result = try Self.withTable(at: rest, in: &sub, line: line, body)
            table.set(name, .init(value: .table(sub), line: entry.line))
            return result
        case .lastOfArray(let name):
            guard let entry = table[name], case .tableArray(var subs) = entry.value, !subs.isEmpty else {
                throw TOMLSyntaxError(line: line, message: "'\(name)' is not an array of tables")
            }
            let result = try Self.withTable(at: rest, in: &subs[subs.count - 1], line: line, body)
            table.set(name, .init(value: .tableArray(subs), line: entry.line))
            return result
        }
    }

    static func isBareKeyScalar(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }

    mutating func parseKeyPath() throws(TOMLSyntaxError) -> [String] {
        var keys: [String] = []
        while true {
            self.skipSpaces()
            if self.current == "\"" {
                keys.append(try self.parseBasicString())
            } else if self.current == "'" {
                keys.append(try self.parseLiteralString())
            } else {
                var key = ""
                while let c = self.current, Self.isBareKeyScalar(c) {
                    key.unicodeScalars.append(c)
                    self.advance()
                }
                guard !key.isEmpty else {
                    let found = self.current.map { "'\($0)'" } ?? "end of file"
                    throw self.fail("expected a key name, found \(found)")
                }
                keys.append(key)
            }
            self.skipSpaces()
            if self.current == "." {
                self.advance()
            } else {
                return keys
            }
        }
    }

    mutating func parseValue() throws(TOMLSyntaxError) -> TOMLValue {
        guard let c = self.current else { throw self.fail("expected a value, found end of file") }
        switch c {
        case "\"":
            if self.peek(1) == "\"" && self.peek(2) == "\"" { throw self.fail("multi-line strings are not supported") }
            return .string(try self.parseBasicString())
        case "'":
            return .string(try self.parseLiteralString())
        case "[":
            return try self.parseArray()
        case "{":
            return try self.parseInlineTable()
        case "t", "f":
            if self.match("true") { return .bool(true) }
            if self.match("false") { return .bool(false) }
            throw self.fail("unexpected value; strings need quotes")
        default:
            return try self.parseNumber()
        }
    }

    func peek(_ offset: Int) -> Unicode.Scalar? {
        let i = self.index + offset
        return i < self.scalars.count ? self.scalars[i] : nil
    }

    mutating func match(_ word: String) -> Bool {
        let ws = Array(word.unicodeScalars)
        guard self.index + ws.count <= self.scalars.count, Array(self.scalars[self.index..<self.index + ws.count]) == ws else {
            return false
        }
        if let after = self.peek(ws.count), Self.isBareKeyScalar(after) { return false }
        for _ in ws { self.advance() }
        return true
    }

    mutating func parseNumber() throws(TOMLSyntaxError) -> TOMLValue {
        var text = ""
        while let c = self.current, Self.isBareKeyScalar(c) || c == "." || c == "+" {
            text.unicodeScalars.append(c)
            self.advance()
        }
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        if cleaned.isEmpty {
            throw self.fail("expected a value (a quoted string, number, boolean, array or table)")
        }
        if let int = Int(cleaned) { return .integer(int) }
        if cleaned.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let double = Double(cleaned) { return .float(double) }
        if cleaned == "inf" || cleaned == "+inf" { return .float(.infinity) }
        throw self.fail("'\(text)' is not a valid value; strings need quotes")
    }

    mutating func parseBasicString() throws(TOMLSyntaxError) -> String {
        let startLine = self.line
        self.advance()  // opening quote
        var result = ""
        while let c = self.current {
            switch c {
            case "\"":
                self.advance()
                return result
            case "\n":
                throw self.fail("string is not closed on the line it starts", line: startLine)
            case "\\":
                self.advance()
                guard let e = self.current else { break }
                switch e {
                case "n": result += "\n"
                case "t": result += "\t"
                case "r": result += "\r"
                case "\\": result += "\\"
                case "\"": result += "\""
                case "u", "U":
                    let count = e == "u" ? 4 : 8
                    var hex = ""
                    for _ in 0..<count {
                        self.advance()
                        guard let h = self.current else { break }
                        hex.unicodeScalars.append(h)
                    }
                    guard let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                        throw self.fail("invalid unicode escape \\\(e)\(hex)")
                    }
                    result.unicodeScalars.append(scalar)
                default:
                    throw self.fail("invalid escape '\\\(e)' in string")
                }
                self.advance()
            default:
                result.unicodeScalars.append(c)
                self.advance()
            }
        }
        throw self.fail("string is not closed", line: startLine)
    }

    mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        let startLine = self.line
        self.advance()
        var result = ""
        while let c = self.current {
            if c == "'" {
                self.advance()
                return result
            }
            if c == "\n" { break }
            result.unicodeScalars.append(c)
            self.advance()
        }
        throw self.fail("string is not closed on the line it starts", line: startLine)
    }

    mutating func parseArray() throws(TOMLSyntaxError) -> TOMLValue {
        let startLine = self.line
        self.advance()
        var items: [TOMLValue] = []
        while true {
            self.skipWhitespaceAndComments()
            guard let c = self.current else { throw self.fail("array is not closed", line: startLine) }
            if c == "]" {
                self.advance()
                return .array(items)
            }
            items.append(try self.parseValue())
            self.skipWhitespaceAndComments()
            if self.current == "," {
                self.advance()
            } else if self.current != "]" {
                throw self.fail("expected ',' or ']' in array")
            }
        }
    }

    mutating func parseInlineTable() throws(TOMLSyntaxError) -> TOMLValue {
        let startLine = self.line
        self.advance()
        var table = TOMLTable(line: startLine)
        self.skipSpaces()
        if self.current == "}" {
            self.advance()
            return .table(table)
        }
        while true {
            self.skipSpaces()
            let keys = try self.parseKeyPath()
            self.skipSpaces()
            guard self.current == "=" else { throw self.fail("expected '=' in inline table") }
            self.advance()
            self.skipSpaces()
            let value = try self.parseValue()
            try Self.insert(value, keys: keys, line: self.line, at: [], in: &table)
            self.skipSpaces()
            if self.current == "," {
                self.advance()
            } else if self.current == "}" {
                self.advance()
                return .table(table)
            } else {
                throw self.fail("expected ',' or '}' in inline table")
            }
        }
    }
}
