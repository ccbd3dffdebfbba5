import FoundationEssentials

/// Reads typed keys out of one TOML table and collects every problem with its
/// file, line and full key. At the end, ``finish()`` reports keys nobody read
/// (typos), with a suggestion when one is close.
struct TableReader {
    let table: TOMLTable
    let file: String
    /// Full key of this table, e.g. `region[1]`.
    let prefix: String
    private(set) var used: Set<String> = []
    var issues: [ConfigIssue] = []

    init(table: TOMLTable, file: String, prefix: String) {
        self.table = table
        self.file = file
        self.prefix = prefix
    }

    func fullKey(_ key: String) -> String { self.prefix.isEmpty ? key : "\(self.prefix).\(key)" }

    func line(of key: String) -> Int { self.table[key]?.line ?? self.table.line }

    mutating func issue(_ key: String, _ message: String, line: Int? = nil) {
        self.issues.append(ConfigIssue(file: self.file, line: line ?? self.line(of: key), key: self.fullKey(key), message: message))
    }

    private mutating func entry(_ key: String) -> TOMLTable.Entry? {
        self.used.insert(key)
        return self.table[key]
    }

    func has(_ key: String) -> Bool { self.table[key] != nil }

    /// The key's value whatever its type, for a key that takes more than one.
    mutating func value(_ key: String) -> TOMLValue? { self.entry(key)?.value }

    /// Marks a key as handled without reading it (it was reported some other way).
    mutating func markUsed(_ key: String) { self.used.insert(key) }

    mutating func string(_ key: String) -> String? {
        guard let entry = self.entry(key) else { return nil }
        guard case .string(let value) = entry.value else {
            self.issue(key, "expected a quoted string, found \(entry.value.typeName)")
            return nil
        }
        return value
    }

    mutating func nonEmptyString(_ key: String) -> String? {
        guard let value = self.string(key) else { return nil }
        guard !value.trimmingSpaces.isEmpty else {
            self.issue(key, "must not be empty")
            return nil
        }
        return value
    }

    mutating func bool(_ key: String) -> Bool? {
        guard let entry = self.entry(key) else { return nil }
        guard case .bool(let value) = entry.value else {
            self.issue(key, "expected true or false, found \(entry.value.typeName)")
            return nil
        }
        return value
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard let entry = self.entry(key) else { return nil }
        guard case .integer(let value) = entry.value else {
            self.issue(key, "expected a whole number, found \(entry.value.typeName)")
            return nil
        }
        guard range.contains(value) else {
            self.issue(key, "\(value) is out of range; use \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    /// A duration written as `"250ms"`, `"2s"`, `"1m30s"`, `"1h"`.
    mutating func duration(_ key: String, in range: ClosedRange<Duration>) -> Duration? {
        guard let entry = self.entry(key) else { return nil }
        guard case .string(let text) = entry.value else {
            self.issue(key, "expected a duration in quotes such as \"500ms\", \"2s\" or \"1m\", found \(entry.value.typeName)")
            return nil
        }
        switch DurationText.parse(text) {
        case .failure(.malformed):
            self.issue(key, "'\(text)' is not a duration; write it like \"500ms\", \"2s\", \"1m30s\"")
            return nil
        case .success(let value) where range.contains(value):
            return value
        case .success, .failure(.tooLong):
            self.issue(key, "\(text) is out of range; use \(formatDuration(range.lowerBound)) to \(formatDuration(range.upperBound))")
            return nil
        }
    }

    /// A fraction written as `0.1` or as a percentage string `"10%"`.
    mutating func fraction(_ key: String, in range: ClosedRange<Double> = 0...1) -> Double? {
        guard let entry = self.entry(key) else { return nil }
        let value: Double?
        switch entry.value {
        case .float(let v): value = v
        case .integer(let v) where v == 0 || v == 1: value = Double(v)
        case .string(let text) where text.hasSuffix("%"): value = FractionText.parse(text)
        default: value = nil
        }
        guard let value, value.isFinite else {
            self.issue(key, "expected a fraction such as 0.1 or a percentage such as \"10%\"")
            return nil
        }
        guard range.contains(value) else {
            self.issue(key, "\(percent(value)) is out of range; use \(percent(range.lowerBound)) to \(percent(range.upperBound))")
            return nil
        }
        return value
    }

    mutating func stringArray(_ key: String) -> [String]? {
        guard let entry = self.entry(key) else { return nil }
        guard case .array(let items) = entry.value else {
            self.issue(key, "expected an array of strings such as [\"a\", \"b\"], found \(entry.value.typeName)")
            return nil
        }
        var result: [String] = []
        for item in items {
            guard case .string(let s) = item else {
                self.issue(key, "every item must be a quoted string")
                return nil
            }
            result.append(s)
        }
        return result
    }

    mutating func intArray(_ key: String, in range: ClosedRange<Int>) -> [Int]? {
        guard let entry = self.entry(key) else { return nil }
        let items: [TOMLValue]
        switch entry.value {
        case .array(let values): items = values
        case .integer: items = [entry.value]
        default:
            self.issue(key, "expected a number or an array of numbers, found \(entry.value.typeName)")
            return nil
        }
        var result: [Int] = []
        for item in items {
            guard case .integer(let i) = item, range.contains(i) else {
                self.issue(key, "every item must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                return nil
            }
            result.append(i)
        }
        return result
    }

    /// A sub-table such as `[daemon]` or an inline `{ ... }`.
    mutating func table(_ key: String) -> TableReader? {
        guard let entry = self.entry(key) else { return nil }
        guard case .table(let sub) = entry.value else {
            self.issue(key, "expected a table ([\(self.fullKey(key))]), found \(entry.value.typeName)")
            return nil
        }
        return TableReader(table: sub, file: self.file, prefix: self.fullKey(key))
    }

    /// An array of tables such as `[[region]]`.
    mutating func tables(_ key: String) -> [TableReader]? {
        guard let entry = self.entry(key) else { return nil }
        guard case .tableArray(let subs) = entry.value else {
            self.issue(key, "expected one or more [[\(self.fullKey(key))]] sections, found \(entry.value.typeName)")
            return nil
        }
        return subs.enumerated().map { TableReader(table: $1, file: self.file, prefix: "\(self.fullKey(key))[\($0)]") }
    }

    /// Collects the issues of a finished sub-reader.
    mutating func absorb(_ other: TableReader) {
        var other = other
        other.reportUnknownKeys()
        self.issues += other.issues
    }

    mutating func reportUnknownKeys() {
        for key in self.table.keys where !self.used.contains(key) {
            let known = Array(self.used)
            if let guess = closest(to: key, among: known) {
                self.issue(key, "unknown key; did you mean '\(guess)'?")
            } else {
                self.issue(key, "unknown key")
            }
        }
        self.used.formUnion(self.table.keys)
    }
}

/// The known name closest to `word`, when it is a likely typo.
func closest(to word: String, among candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word, $0)) }.filter { $0.1 <= max(2, word.count / 3) }
    return scored.min(by: { $0.1 < $1.1 })?.0
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var row = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = row
    }
    return previous[b.count]
}
