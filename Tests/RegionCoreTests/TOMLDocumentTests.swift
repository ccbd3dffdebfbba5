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
        ("x = \"\"\"multi\"\"\"", 1, "multi-line strings are not supported"),
        ("x = 1 2", 1, "after the value"),
        ("x = [1, 2", 1, "expected ',' or ']' in array"),
        ("x = [1, 2,", 1, "array is not closed"),
        ("[x\ny = 1", 1, "expected ']'"),
        ("x = 1\n[x]", 2, "already a integer"),
        ("x = \"\\q\"", 1, "invalid escape"),
    ])
    func syntaxErrorsCarryTheirLine(_ text: String, _ line: Int, _ message: String) {
        do {
            _ = try TOMLDocument(parsing: text)
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.line == line)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }
}
