/// A table under construction. Reference semantics, so that writing a key into the
/// thousandth `[[region]]` costs the same as into the first (value-type tables were
/// copied whole on every key: quadratic in the size of the file).
final class TOMLNode {
    enum Item {
        case table(TOMLNode)
        /// `[[name]]`: keys go to the last element.
        case tableArray(TOMLArrayNode)
        /// A finished value, including static arrays and inline tables: these cannot be
        /// extended by later headers or keys.
        case value(TOMLValue)
    }

    let line: Int
    private(set) var order: [String] = []
    private(set) var items: [String: Item] = [:]
    private var lines: [String: Int] = [:]
    /// Defined by a header (or by dotted keys in an earlier section): `[name]` may not
    /// define it again. A table only named on the way to another header is not.
    var explicit = false

    init(line: Int) {
        self.line = line
    }

    /// The line a key was first written on.
    func line(of key: String) -> Int { self.lines[key] ?? self.line }

    func add(_ key: String, _ item: Item, line: Int) {
        if self.items.updateValue(item, forKey: key) == nil {
            self.order.append(key)
            self.lines[key] = line
        }
    }

    /// The finished table, with each key's line.
    func freeze() -> TOMLTable {
        var table = TOMLTable(line: self.line)
        for key in self.order {
            let value: TOMLValue
            switch self.items[key]! {
            case .table(let node): value = .table(node.freeze())
            case .tableArray(let array): value = .tableArray(array.elements.map { $0.freeze() })
            case .value(let v): value = v
            }
            table.set(key, .init(value: value, line: self.lines[key] ?? self.line))
        }
        return table
    }
}

/// The elements of an array of tables, appended in place.
final class TOMLArrayNode {
    var elements: [TOMLNode]

    init(_ first: TOMLNode) {
        self.elements = [first]
    }
}

/// The statements of a document: key/value pairs, `[table]` and `[[array.of.tables]]`
/// headers, with TOML's rules about which tables may be defined where.
struct TOMLParser {
    var scanner: TOMLScanner
    let root = TOMLNode(line: 0)
    /// The table that key/value pairs go into: the last header's.
    var current: TOMLNode
    /// Tables made by dotted keys in the current section; they count as defined from the next header on.
    var pending: [TOMLNode] = []

    init(text: String) {
        self.scanner = TOMLScanner(text: text)
        self.current = self.root
    }

    mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        while true {
            self.scanner.skipSpaces()
            guard let c = self.scanner.current else { break }
            if c == "\n" {
                self.scanner.pos += 1
                continue
            }
            if c == "[" {
                for node in self.pending { node.explicit = true }
                self.pending.removeAll()
                if self.scanner.peek(1) == "[" { try self.arrayHeader() } else { try self.tableHeader() }
                self.scanner.skipSpaces()
            } else if TOMLScanner.isBareKey(c) || c == "\"" || c == "'" {
                try self.keyValue()
                self.scanner.skipSpaces()
            } else if c != "#" {
                throw self.scanner.fail("expected a key, a [table] or a comment, found '\(TOMLScanner.printable(c))'")
            }
            try self.scanner.skipComment()
            guard self.scanner.current == nil || self.scanner.current == "\n" else {
                throw self.scanner.fail("unexpected '\(TOMLScanner.printable(self.scanner.current!))' after the value; put one key = value on each line")
            }
        }
        return self.root.freeze()
    }

    /// `[a.b]`: defines table a.b (a may be implicit); a table may be defined once.
    mutating func tableHeader() throws(TOMLSyntaxError) {
        let line = self.scanner.line()
        self.scanner.pos += 1
        self.scanner.skipSpaces()
        let names = try self.scanner.parseKey()
        guard self.scanner.current == "]" else { throw self.scanner.fail("expected ']' to close the table header") }
        self.scanner.pos += 1
        let parent = try self.walk(names.dropLast(), line: line, header: names)
        let last = names.last!
        let table: TOMLNode
        switch parent.items[last] {
        case nil:
            table = TOMLNode(line: line)
            parent.add(last, .table(table), line: line)
        case .table(let existing)?:
            guard !existing.explicit else { throw self.scanner.fail("table [\(names.joined(separator: "."))] is defined twice", at: self.scanner.pos - 1) }
            table = existing
        case .tableArray?:
            throw self.scanner.fail("[\(names.joined(separator: "."))] is an array of tables ([[...]]); it cannot also be a table")
        case .value?:
            throw self.scanner.fail("'\(names.joined(separator: "."))' is already a value; it cannot also be a table")
        }
        table.explicit = true
        self.current = table
    }

    /// `[[a.b]]`: appends a table to array a.b; keys go into it.
    mutating func arrayHeader() throws(TOMLSyntaxError) {
        let line = self.scanner.line()
        self.scanner.pos += 2
        self.scanner.skipSpaces()
        let names = try self.scanner.parseKey()
        guard self.scanner.starts(with: "]]") else { throw self.scanner.fail("expected ']]' to close the array-of-tables header") }
        self.scanner.pos += 2
        let parent = try self.walk(names.dropLast(), line: line, header: names)
        let last = names.last!
        let element = TOMLNode(line: line)
        switch parent.items[last] {
        case nil:
            parent.add(last, .tableArray(TOMLArrayNode(element)), line: line)
        case .tableArray(let array)?:
            array.elements.append(element)
        case .table?:
            throw self.scanner.fail("[\(names.joined(separator: "."))] is a table; it cannot also be an array of tables ([[...]])")
        case .value?:
            throw self.scanner.fail("'\(names.joined(separator: "."))' is already a value; it cannot also be an array of tables")
        }
        element.explicit = true
        self.current = element
    }

    /// Follows (and creates) the tables on the way to a header; arrays of tables lead
    /// to their last element.
    func walk(_ names: ArraySlice<String>, line: Int, header: [String]) throws(TOMLSyntaxError) -> TOMLNode {
        var node = self.root
        for name in names {
            switch node.items[name] {
            case nil:
                let child = TOMLNode(line: line)
                node.add(name, .table(child), line: line)
                node = child
            case .table(let child)?:
                node = child
            case .tableArray(let array)?:
                node = array.elements.last!
            case .value?:
                throw self.scanner.fail("'\(name)' is already a value; [\(header.joined(separator: "."))] cannot go inside it")
            }
        }
        return node
    }

    /// `key = value`, `a.b.c = value`: dotted keys make tables inside the current one;
    /// they may not reach into a table defined elsewhere.
    mutating func keyValue() throws(TOMLSyntaxError) {
        let start = self.scanner.pos
        let line = self.scanner.line()
        let key = try self.scanner.parseKey()
        guard self.scanner.current == "=" else {
            throw self.scanner.fail("expected '=' after the key '\(key.joined(separator: "."))'")
        }
        self.scanner.pos += 1
        self.scanner.skipSpaces()
        let value = try self.scanner.parseValue()
        var node = self.current
        for name in key.dropLast() {
            switch node.items[name] {
            case nil:
                let child = TOMLNode(line: line)
                node.add(name, .table(child), line: line)
                self.pending.append(child)
                node = child
            case .table(let child)? where !child.explicit:
                self.pending.append(child)
                node = child
            case .table?, .tableArray?:
                throw self.scanner.fail("'\(name)' is a table defined elsewhere; set '\(key.joined(separator: "."))' in its own section", at: start)
            case .value?:
                throw self.scanner.fail("'\(name)' is already a value; '\(key.joined(separator: "."))' cannot go inside it", at: start)
            }
        }
        let last = key.last!
        if node.items[last] != nil {
            throw self.scanner.fail("key '\(key.joined(separator: "."))' is set twice (first on line \(node.line(of: last)))", at: start)
        }
        node.add(last, .value(value), line: line)
    }
}
