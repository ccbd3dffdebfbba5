/// Reads the pieces of a TOML document: keys, strings, numbers, arrays, inline tables.
///
/// It follows the grammar of TOML 1.0 closely (and the order in which Python's `tomllib`
/// tries the value forms), so that what one accepts the other accepts. Line endings are
/// normalised to `\n` first, as `tomllib` does.
struct TOMLScanner {
    let s: [Unicode.Scalar]
    var pos = 0
    /// Arrays and inline tables open around the value being read. Each level is a
    /// recursive call: a config of 100,000 `[` overflowed the stack (found by make fuzz).
    var nesting = 0
    static let maxNesting = 64
    /// Offsets at which lines start, for line numbers.
    private let lineStarts: [Int]

    init(text: String) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var starts = [0]
        var previousCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n", previousCR { scalars.removeLast() }
            previousCR = scalar == "\r"
            scalars.append(scalar)
            if scalar == "\n" { starts.append(scalars.count) }
        }
        self.s = scalars
        self.lineStarts = starts
    }

    var current: Unicode.Scalar? { self.pos < self.s.count ? self.s[self.pos] : nil }
    func peek(_ offset: Int) -> Unicode.Scalar? { self.pos + offset < self.s.count ? self.s[self.pos + offset] : nil }
    var atEnd: Bool { self.pos >= self.s.count }

    /// The 1-based line of offset `at` (default: the current position).
    func line(at: Int? = nil) -> Int {
        let offset = at ?? self.pos
        var low = 0
        var high = self.lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if self.lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return low + 1
    }

    func fail(_ message: String, at: Int? = nil) -> TOMLSyntaxError {
        TOMLSyntaxError(line: self.line(at: at), message: message)
    }

    func starts(with text: String) -> Bool {
        var i = self.pos
        for scalar in text.unicodeScalars {
            guard i < self.s.count, self.s[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool { c.value < 0x20 || c.value == 0x7F }
    static func isBareKey(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }
    static func isDigit(_ c: Unicode.Scalar?) -> Bool { c.map { ("0"..."9").contains($0) } ?? false }
    static func isHexDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) || ("a"..."f").contains(c) || ("A"..."F").contains(c) }

    mutating func skipSpaces() {
        while let c = self.current, c == " " || c == "\t" { self.pos += 1 }
    }

    /// A comment runs to the end of the line and may not hold control characters but tab.
    mutating func skipComment() throws(TOMLSyntaxError) {
        guard self.current == "#" else { return }
        self.pos += 1
        while let c = self.current, c != "\n" {
            if Self.isControl(c), c != "\t" { throw self.fail("control character U+\(Self.hex(c)) in a comment") }
            self.pos += 1
        }
    }

    /// Whitespace, newlines and comments, as allowed between the items of an array.
    mutating func skipArraySpace() throws(TOMLSyntaxError) {
        while true {
            self.skipSpaces()
            if self.current == "\n" {
                self.pos += 1
            } else if self.current == "#" {
                try self.skipComment()
            } else {
                return
            }
        }
    }

    static func hex(_ c: Unicode.Scalar) -> String {
        let digits = String(c.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    // MARK: keys

    /// A dotted key: `a`, `"quoted key"`, `a.'b'.c` (spaces allowed around the dots).
    mutating func parseKey() throws(TOMLSyntaxError) -> [String] {
        var parts = [try self.parseKeyPart()]
        self.skipSpaces()
        while self.current == "." {
            self.pos += 1
            self.skipSpaces()
            parts.append(try self.parseKeyPart())
            self.skipSpaces()
        }
        return parts
    }

    mutating func parseKeyPart() throws(TOMLSyntaxError) -> String {
        guard let c = self.current else { throw self.fail("expected a key, found the end of the file") }
        if Self.isBareKey(c) {
            var key = ""
            while let d = self.current, Self.isBareKey(d) {
                key.unicodeScalars.append(d)
                self.pos += 1
            }
            return key
        }
        if c == "'" { return try self.parseLiteralString() }
        if c == "\"" { return try self.parseBasicString(multiline: false) }
        throw self.fail("expected a key (letters, digits, '_', '-' or a quoted string), found '\(Self.printable(c))'")
    }

    static func printable(_ c: Unicode.Scalar) -> String {
        Self.isControl(c) ? "U+\(Self.hex(c))" : String(c)
    }

    // MARK: strings

    /// `'...'`: no escapes, one line.
    mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        let start = self.pos
        self.pos += 1
        var result = ""
        while let c = self.current {
            if c == "'" {
                self.pos += 1
                return result
            }
            if c == "\n" { break }
            if Self.isControl(c), c != "\t" { throw self.fail("control character U+\(Self.hex(c)) in a string") }
            result.unicodeScalars.append(c)
            self.pos += 1
        }
        throw self.fail("string is not closed on the line it starts", at: start)
    }

    /// `"..."` (one line) or the body of `"""..."""`, with escapes.
    mutating func parseBasicString(multiline: Bool) throws(TOMLSyntaxError) -> String {
        let start = self.pos
        if !multiline { self.pos += 1 }
        var result = ""
        while true {
            guard let c = self.current else { throw self.fail("string is not closed", at: start) }
            switch c {
            case "\"":
                if !multiline {
                    self.pos += 1
                    return result
                }
                if self.starts(with: "\"\"\"") {
                    self.pos += 3
                    return result
                }
                result.unicodeScalars.append(c)
                self.pos += 1
            case "\\":
                result += try self.parseEscape(multiline: multiline)
            case "\n" where !multiline:
                throw self.fail("string is not closed on the line it starts", at: start)
            default:
                if Self.isControl(c), c != "\t", !(multiline && c == "\n") {
                    throw self.fail("control character U+\(Self.hex(c)) in a string; write it as an escape")
                }
                result.unicodeScalars.append(c)
                self.pos += 1
            }
        }
    }

    mutating func parseEscape(multiline: Bool) throws(TOMLSyntaxError) -> String {
        self.pos += 1  // the backslash
        guard let e = self.current else { throw self.fail("string is not closed") }
        if multiline, e == " " || e == "\t" || e == "\n" {
            // A line-ending backslash: the newline and the whitespace after it vanish.
            if e != "\n" {
                self.skipSpaces()
                guard self.current == "\n" || self.current == nil else { throw self.fail("invalid escape '\\ ' in a string") }
            }
            while let d = self.current, d == " " || d == "\t" || d == "\n" { self.pos += 1 }
            return ""
        }
        self.pos += 1
        switch e {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let count = e == "u" ? 4 : 8
            guard self.pos + count <= self.s.count, self.s[self.pos..<self.pos + count].allSatisfy(Self.isHexDigit) else {
                throw self.fail("invalid unicode escape \\\(e); it needs \(count) hex digits")
            }
            var code: UInt32 = 0
            for digit in self.s[self.pos..<self.pos + count] { code = code * 16 + UInt32(String(digit), radix: 16)! }
            self.pos += count
            guard let scalar = Unicode.Scalar(code) else { throw self.fail("escape \\\(e) is not a Unicode scalar value") }
            return String(scalar)
        default:
            throw self.fail("invalid escape '\\\(Self.printable(e))' in a string")
        }
    }

    /// `'''...'''` or `"""..."""`; a newline right after the opening quotes is dropped, and
    /// up to two quotes right before the closing ones belong to the string.
    mutating func parseMultilineString(literal: Bool) throws(TOMLSyntaxError) -> String {
        let start = self.pos
        self.pos += 3
        if self.current == "\n" { self.pos += 1 }
        var result = ""
        let delimiter: Unicode.Scalar = literal ? "'" : "\""
        if literal {
            while true {
                guard let c = self.current else { throw self.fail("string is not closed", at: start) }
                if c == "'", self.starts(with: "'''") {
                    self.pos += 3
                    break
                }
                if Self.isControl(c), c != "\t", c != "\n" { throw self.fail("control character U+\(Self.hex(c)) in a string") }
                result.unicodeScalars.append(c)
                self.pos += 1
            }
        } else {
            result = try self.parseBasicString(multiline: true)
        }
        for _ in 0..<2 where self.current == delimiter {
            result.unicodeScalars.append(delimiter)
            self.pos += 1
        }
        return result
    }
}
