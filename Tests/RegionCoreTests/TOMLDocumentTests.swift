import Foundation
import Testing

@testable import RegionCore

@Suite("TOML reader")
struct TOMLDocumentTests {
    @Test func readsTheTOMLThatConfigsUse() throws {
        let doc = try TOMLDocument(
            parsing: """
                # comment
                title = "x" # trailing
                literal = 'C:\\path'
                escaped = "tab\\there \\u00e9"
                n = 1_000
                f = 0.25
                yes = true
                list = [
                  "a",  # inline comment
                  "b",
                ]
                inline = { a = 1, b = "two" }
                [a.b]
                c = 3
                [[items]]
                k = 1
                [[items]]
                k = 2
                  [[items.sub]]
                  z = true
                """)
        let root = doc.root
        #expect(root["title"]?.value == .string("x"))
        #expect(root["literal"]?.value == .string("C:\\path"))
        #expect(root["escaped"]?.value == .string("tab\there é"))
        #expect(root["n"]?.value == .integer(1000))
        #expect(root["f"]?.value == .float(0.25))
        #expect(root["yes"]?.value == .bool(true))
        #expect(root["list"]?.value == .array([.string("a"), .string("b")]))
        #expect(root["list"]?.line == 8)
        guard case .table(let inline) = root["inline"]?.value else { Issue.record("inline"); return }
        #expect(inline["b"]?.value == .string("two"))
        guard case .table(let a) = root["a"]?.value, case .table(let b) = a["b"]?.value else { Issue.record("a.b"); return }
        #expect(b["c"]?.value == .integer(3))
        #expect(b["c"]?.line == 14)
        guard case .tableArray(let items) = root["items"]?.value else { Issue.record("items"); return }
        #expect(items.count == 2)
        #expect(items[1]["k"]?.value == .integer(2))
        #expect(items[1].line == 17)
        guard case .tableArray(let sub) = items[1]["sub"]?.value else { Issue.record("sub"); return }
        #expect(sub[0]["z"]?.value == .bool(true))
    }

    @Test(arguments: [
        ("x = 1 2", 1, "after the value"),
        ("x = [1, 2", 1, "array is not closed"),
        ("x = [1, 2,", 1, "array is not closed"),
        ("x = [1 2]", 1, "expected ',' or ']' in the array"),
        ("[x\ny = 1", 1, "expected ']'"),
        ("x = 1\n[x]", 2, "'x' is already a value"),
        ("x = \"\\q\"", 1, "invalid escape"),
        ("a = 1\n\nb = 1979-05-27", 3, "dates and times are not supported"),
        ("a = 07:32:00", 1, "dates and times are not supported"),
        ("a = 99999999999999999999", 1, "does not fit in 64 bits"),
        ("a = 0xffffffffffffffff", 1, "does not fit in 64 bits"),
        ("[a]\n[a]", 2, "table [a] is defined twice"),
        ("a = 1\na = 2", 2, "key 'a' is set twice (first on line 1)"),
        ("a.b = 1\n[a]", 2, "table [a] is defined twice"),
        ("[x]\na = { b = 1 }\n[x.a.c]", 3, "'a' is already a value"),
        ("a = [1]\n[[a]]", 2, "already a value"),
        ("[[a]]\n[a]", 2, "is an array of tables"),
        ("[a.b]\n[[a.b]]", 2, "is a table"),
        ("a = 007", 1, "after the value"),
        ("a = 1__0", 1, "after the value"),
        ("a = .5", 1, "does not start a value"),
        ("a = { b = 1, }", 1, "expected a key"),
        ("a = { b = 1,\n c = 2 }", 1, "expected a key"),
        ("# bell \u{07}", 1, "control character U+0007 in a comment"),
        ("a = \"\\ud800\"", 1, "not a Unicode scalar value"),
        ("a = 'x\ny'", 1, "not closed on the line"),
    ])
    func syntaxErrorsCarryTheirLine(_ text: String, _ line: Int, _ message: String) {
        do {
            _ = try TOMLDocument(parsing: text)
            Issue.record("expected a syntax error for \(text)")
        } catch {
            #expect(error.line == line, "\(text): \(error)")
            #expect(error.message.contains(message), "\(text): \(error.message)")
        }
    }

    /// Each `[[region]]` is its own namespace: a second region's `[region.status]` is not a
    /// second definition of the first one's (it used to be rejected as "defined twice").
    @Test func subTablesBelongToTheirArrayElement() throws {
        let doc = try TOMLDocument(
            parsing: """
                [[region]]
                id = "a"
                [region.status]
                fall = 1
                [[region]]
                id = "b"
                [region.status]
                fall = 2
                """)
        guard case .tableArray(let regions) = doc.root["region"]?.value else {
            Issue.record("no regions")
            return
        }
        let falls = regions.compactMap { region -> TOMLValue? in
            guard case .table(let status) = region["status"]?.value else { return nil }
            return status["fall"]?.value
        }
        #expect(falls == [.integer(1), .integer(2)])
        #expect(regions[1].line == 5)
    }

    @Test func theRestOfTOMLReadsAsTheStandardSays() throws {
        let text = #"""
            a = """
            line one\
               still one
            line two"""
            b = '''
            raw \n ''text'''''
            hex = 0xDEAD_beef
            oct = 0o755
            bin = 0b1010
            big = 1e400
            small = -0.0
            e = 6.02e+23
            inf = -inf
            quoted."key with spaces" = 1
            'single' = "\U0001F600"
            [dotted]
            x.y.z = 1
            x.w = 2
            [dotted.x.v]
            u = 3
            """#
        let root = try TOMLDocument(parsing: text.replacingOccurrences(of: "\n", with: "\r\n")).root
        #expect(root["a"]?.value == .string("line onestill one\nline two"))
        #expect(root["b"]?.value == .string("raw \\n ''text''"))
        #expect(root["b"]?.line == 5)
        #expect(root["hex"]?.value == .integer(0xDEAD_BEEF))
        #expect(root["oct"]?.value == .integer(0o755))
        #expect(root["bin"]?.value == .integer(10))
        #expect(root["big"]?.value == .float(.infinity))
        guard case .float(let zero) = root["small"]?.value else {
            Issue.record("small")
            return
        }
        #expect(zero == 0 && zero.sign == .minus)
        #expect(root["e"]?.value == .float(6.02e23))
        #expect(root["inf"]?.value == .float(-.infinity))
        #expect(root["single"]?.value == .string("😀"))
        guard case .table(let quoted) = root["quoted"]?.value else {
            Issue.record("quoted")
            return
        }
        #expect(quoted["key with spaces"]?.value == .integer(1))
        guard case .table(let dotted) = root["dotted"]?.value, case .table(let x) = dotted["x"]?.value else {
            Issue.record("dotted")
            return
        }
        #expect(x.keys == ["y", "w", "v"])
    }
}

/// Found by `make fuzz`: each nested array is a recursive call, and 100,000 `[` overflowed
/// the stack. Nesting is limited; within the limit nothing changes.
@Suite("TOML nesting limit")
struct TOMLNestingTests {
    @Test func deepNestingIsAnErrorNotACrash() {
        let text = "x = " + String(repeating: "[", count: 100_000)
        #expect(throws: TOMLSyntaxError.self) { try TOMLDocument(parsing: text) }
        do {
            _ = try TOMLDocument(parsing: text)
        } catch {
            #expect(error.message.contains("nested more than 64 deep"), "\(error.message)")
        }
    }

    @Test func nestingUpToTheLimitIsRead() throws {
        let text = "x = " + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "\ny = " + String(repeating: "{ a = ", count: 63) + "1" + String(repeating: " }", count: 63)
        _ = try TOMLDocument(parsing: text)
    }
}
