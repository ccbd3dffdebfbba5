extension TOMLScanner {
    /// A value, tried in the order `tomllib` tries them: strings, booleans, arrays, inline
    /// tables, dates and times (not supported), numbers, then inf and nan.
    mutating func parseValue() throws(TOMLSyntaxError) -> TOMLValue {
        guard let c = self.current else { throw self.fail("expected a value, found the end of the file") }
        switch c {
        case "\"":
            return .string(self.starts(with: "\"\"\"") ? try self.parseMultilineString(literal: false) : try self.parseBasicString(multiline: false))
        case "'":
            return .string(self.starts(with: "'''") ? try self.parseMultilineString(literal: true) : try self.parseLiteralString())
        case "t" where self.starts(with: "true"):
            self.pos += 4
            return .bool(true)
        case "f" where self.starts(with: "false"):
            self.pos += 5
            return .bool(false)
        case "[":
            return try self.parseArray()
        case "{":
            return try self.parseInlineTable()
        default:
            break
        }
        if self.looksLikeDateOrTime() {
            throw self.fail("dates and times are not supported; quote the value if it is text")
        }
        if let number = try self.parseNumber() { return number }
        for special in ["inf", "nan", "+inf", "-inf", "+nan", "-nan"] where self.starts(with: special) {
            self.pos += special.unicodeScalars.count
            let value: Double = special.hasSuffix("inf") ? .infinity : .nan
            return .float(special.hasPrefix("-") ? -value : value)
        }
        throw self.fail("'\(Self.printable(c))' does not start a value; strings need quotes")
    }

    /// `1979-05-27...` or `07:32:00...`: the forms of TOML's date and time values.
    func looksLikeDateOrTime() -> Bool {
        func digits(_ offset: Int, _ count: Int) -> Bool { (0..<count).allSatisfy { Self.isDigit(self.peek(offset + $0)) } }
        return (digits(0, 4) && self.peek(4) == "-" && digits(5, 2) && self.peek(7) == "-" && digits(8, 2))
            || (digits(0, 2) && self.peek(2) == ":" && digits(3, 2) && self.peek(5) == ":" && digits(6, 2))
    }

    /// Integers (decimal, `0x`, `0o`, `0b`) and floats, with `_` between digits. The
    /// longest match is taken and the caller checks what follows, like `tomllib`'s regex.
    mutating func parseNumber() throws(TOMLSyntaxError) -> TOMLValue? {
        let start = self.pos
        if self.current == "0", let radixMark = self.peek(1), ["x", "o", "b"].contains(radixMark) {
            let radix = radixMark == "x" ? 16 : radixMark == "o" ? 8 : 2
            let isDigit: (Unicode.Scalar) -> Bool = { c in
                radix == 16 ? Self.isHexDigit(c) : (radix == 8 ? ("0"..."7").contains(c) : (c == "0" || c == "1"))
            }
            if let first = self.peek(2), isDigit(first) {
                self.pos += 2
                let digits = self.digitRun(isDigit)
                guard let value = Int(digits, radix: radix) else {
                    throw self.fail("integer \(String(String.UnicodeScalarView(self.s[start..<self.pos]))) does not fit in 64 bits; regiond supports integers up to \(Int.max)", at: start)
                }
                return .integer(value)
            }
        }
        var text = ""
        if let sign = self.current, sign == "+" || sign == "-" {
            text.unicodeScalars.append(sign)
            self.pos += 1
        }
        guard Self.isDigit(self.current) else {
            self.pos = start
            return nil
        }
        if self.current == "0" {
            text += "0"
            self.pos += 1
        } else {
            text += self.digitRun { Self.isDigit($0) }
        }
        var isFloat = false
        if self.current == ".", Self.isDigit(self.peek(1)) {
            self.pos += 1
            text += "." + self.digitRun { Self.isDigit($0) }
            isFloat = true
        }
        if let e = self.current, e == "e" || e == "E" {
            var exponent = ""
            var offset = 1
            if let sign = self.peek(1), sign == "+" || sign == "-" {
                exponent.unicodeScalars.append(sign)
                offset = 2
            }
            if Self.isDigit(self.peek(offset)) {
                self.pos += offset
                text += "e" + exponent + self.digitRun { Self.isDigit($0) }
                isFloat = true
            }
        }
        if isFloat {
            guard let value = Double(text) else { throw self.fail("'\(text)' is not a number", at: start) }
            return .float(value)
        }
        guard let value = Int(text) else {
            throw self.fail("integer \(text) does not fit in 64 bits; regiond supports integers up to \(Int.max)", at: start)
        }
        return .integer(value)
    }

    /// Digits with single underscores between them (`1_000`); stops before anything else.
    mutating func digitRun(_ isDigit: (Unicode.Scalar) -> Bool) -> String {
        var text = ""
        while let c = self.current, isDigit(c) {
            text.unicodeScalars.append(c)
            self.pos += 1
            if self.current == "_", let next = self.peek(1), isDigit(next) { self.pos += 1 }
        }
        return text
    }

    /// `[ value, value, ]`, over several lines if need be, with comments.
    mutating func parseArray() throws(TOMLSyntaxError) -> TOMLValue {
        let start = self.pos
        try self.enterNesting(at: start)
        defer { self.nesting -= 1 }
        self.pos += 1
        var items: [TOMLValue] = []
        try self.skipArraySpace()
        if self.current == "]" {
            self.pos += 1
            return .array(items)
        }
        while true {
            guard !self.atEnd else { throw self.fail("array is not closed", at: start) }
            items.append(try self.parseValue())
            try self.skipArraySpace()
            if self.current == "]" {
                self.pos += 1
                return .array(items)
            }
            guard self.current == "," else {
                throw self.atEnd ? self.fail("array is not closed", at: start) : self.fail("expected ',' or ']' in the array")
            }
            self.pos += 1
            try self.skipArraySpace()
            if self.current == "]" {
                self.pos += 1
                return .array(items)
            }
        }
    }

    /// `{ key = value, a.b = value }` on one line; it cannot be extended later.
    mutating func parseInlineTable() throws(TOMLSyntaxError) -> TOMLValue {
        let start = self.pos
        try self.enterNesting(at: start)
        defer { self.nesting -= 1 }
        self.pos += 1
        let table = TOMLNode(line: self.line(at: start))
        self.skipSpaces()
        if self.current == "}" {
            self.pos += 1
            return .table(table.freeze())
        }
        while true {
            let keyStart = self.pos
            let key = try self.parseKey()
            guard self.current == "=" else { throw self.fail("expected '=' after the key '\(key.joined(separator: "."))'") }
            self.pos += 1
            self.skipSpaces()
            let value = try self.parseValue()
            let line = self.line(at: keyStart)
            var parent = table
            for part in key.dropLast() {
                switch parent.items[part] {
                case nil:
                    let child = TOMLNode(line: line)
                    parent.add(part, .table(child), line: line)
                    parent = child
                case .table(let child)?:
                    parent = child
                default:
                    throw self.fail("'\(part)' in this inline table is already a value", at: keyStart)
                }
            }
            guard parent.items[key.last!] == nil else { throw self.fail("key '\(key.joined(separator: "."))' is set twice in this inline table", at: keyStart) }
            parent.add(key.last!, .value(value), line: line)
            self.skipSpaces()
            if self.current == "}" {
                self.pos += 1
                return .table(table.freeze())
            }
            guard self.current == "," else { throw self.fail("expected ',' or '}' in the inline table (it must be on one line)") }
            self.pos += 1
            self.skipSpaces()
        }
    }
}

extension TOMLScanner {
    /// One more level of arrays and inline tables, refused beyond ``maxNesting``.
    mutating func enterNesting(at start: Int) throws(TOMLSyntaxError) {
        guard self.nesting < Self.maxNesting else {
            throw self.fail("arrays and inline tables nested more than \(Self.maxNesting) deep", at: start)
        }
        self.nesting += 1
    }
}
