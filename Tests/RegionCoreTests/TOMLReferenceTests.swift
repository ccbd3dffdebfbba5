import Foundation
import RegionCore
import Subprocess
import SystemPackage
import Testing

/// regiond's TOML reader against Python's `tomllib`, the reference: on every document,
/// both accept (with equal values) or both reject. Where tomllib accepts and regiond
/// does not, regiond's error must name one of the two features it leaves out on purpose.
@Suite("TOML reader against tomllib")
struct TOMLReferenceTests {
    /// A value with the types JSON would blur (see scripts/toml_reference.py).
    indirect enum Tagged: Equatable, CustomStringConvertible {
        case string(String), integer(String), float(String), bool(Bool), date(String)
        case array([Tagged]), table([String: Tagged])

        init(_ value: TOMLValue) {
            switch value {
            case .string(let s): self = .string(s)
            case .integer(let i): self = .integer(String(i))
            case .float(let f): self = .float(f.isNaN ? "nan" : Self.hex(f))
            case .bool(let b): self = .bool(b)
            case .array(let items): self = .array(items.map(Tagged.init))
            case .table(let t): self = Self(t)
            case .tableArray(let tables): self = .array(tables.map(Tagged.init))
            }
        }

        init(_ table: TOMLTable) {
            self = .table(Dictionary(table.entries.map { ($0.key, Tagged($0.entry.value)) }, uniquingKeysWith: { a, _ in a }))
        }

        init?(json: Any) {
            guard let object = json as? [String: Any], let (tag, value) = object.first else { return nil }
            switch (tag, value) {
            case ("s", let s as String): self = .string(s)
            case ("i", let i as String): self = .integer(i)
            case ("f", let f as String): self = .float(f == "nan" ? "nan" : (Double(f).map(Self.hex) ?? f))
            case ("b", let b as Bool): self = .bool(b)
            case ("d", let d as String): self = .date(d)
            case ("a", let items as [Any]):
                let parsed = items.compactMap(Tagged.init(json:))
                guard parsed.count == items.count else { return nil }
                self = .array(parsed)
            case ("t", let members as [String: Any]):
                let parsed = members.compactMapValues(Tagged.init(json:))
                guard parsed.count == members.count else { return nil }
                self = .table(parsed)
            default: return nil
            }
        }

        /// Exact, sign of zero included.
        static func hex(_ value: Double) -> String { value.isInfinite ? (value < 0 ? "-inf" : "inf") : String(value.bitPattern, radix: 16) }

        var description: String {
            switch self {
            case .string(let s): "\"\(s)\""
            case .integer(let i): i
            case .float(let f): "f:\(f)"
            case .bool(let b): "\(b)"
            case .date(let d): "date:\(d)"
            case .array(let items): "[\(items.map(\.description).joined(separator: ", "))]"
            case .table(let members): "{\(members.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))}"
            }
        }
    }

    /// What tomllib made of each document.
    static func reference(_ documents: [String]) async throws -> [(ok: Bool, value: Tagged?, error: String?)] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/toml_reference.py").path
        let input = String(decoding: try JSONSerialization.data(withJSONObject: documents), as: UTF8.self)
        let run = try await Subprocess.run(
            .name("python3"), arguments: [script], input: .string(input), output: .string(limit: 1 << 26), error: .string(limit: 1 << 20))
        guard case .exited(0) = run.terminationStatus else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSDebugDescriptionErrorKey: "python3 tomllib failed: \(run.standardError)"])
        }
        let output = run.standardOutput
        let results = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]])
        return results.map { result in
            let ok = result["ok"] as? Bool ?? false
            return (ok, result["value"].flatMap(Tagged.init(json:)), result["error"] as? String)
        }
    }

    /// The features regiond leaves out on purpose, as its errors name them.
    static let unsupported = ["dates and times are not supported", "does not fit in 64 bits"]

    static func compare(_ documents: [String]) async throws {
        let expected = try await Self.reference(documents)
        try #require(expected.count == documents.count)
        var accepted = 0
        for (document, reference) in zip(documents, expected) {
            let ours: Result<TOMLTable, TOMLSyntaxError> = Result { () throws(TOMLSyntaxError) in try TOMLDocument(parsing: document).root }
            switch (ours, reference.ok) {
            case (.success(let table), true):
                accepted += 1
                #expect(Tagged(table) == reference.value, "values differ for:\n\(document)")
            case (.failure(let error), true):
                #expect(Self.unsupported.contains { error.message.contains($0) }, "tomllib accepts, regiond says line \(error.line): \(error.message)\n\(document)")
            case (.success, false):
                Issue.record("regiond accepts what tomllib rejects (\(reference.error ?? "")):\n\(document)")
            case (.failure, false):
                break
            }
        }
        // Guards the generator: most documents are valid enough to compare values.
        #expect(accepted > 0)
    }

    @Test func handWrittenDocumentsAgree() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let configs = try ["etc/regiond/regiond.toml", "etc/regiond/demo.toml"].map {
            try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8)
        }
        try await Self.compare(configs + Self.handWritten)
    }

    @Test(arguments: 0..<8)
    func generatedDocumentsAgree(batch: UInt64) async throws {
        var generator = TOMLGenerator(seed: 0x5EED_0000 + batch)
        try await Self.compare((0..<500).map { _ in generator.document() })
    }

    static let handWritten = [
        "[[region]]\nid = \"a\"\n[region.status]\nfall = 1\n[[region]]\nid = \"b\"\n[region.status]\nfall = 2",
        "[a.b.c]\n[a]\nb.d = 1", "[a.b.c]\nz = 9\n[a]\nb.c.t = 1", "[fruit]\napple.color = \"red\"\n[fruit.apple]",
        "[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\nsmooth = true", "a = {b = 1}\na.c = 2", "a = {b.c = 1, b.d = 2}",
        "a = {b = {c = 1}, b.d = 2}", "[[a]]\nb.c = 1\n[[a]]\nb.c = 2", "[x]\n[[x.a]]\n[x]", "[[x.a]]\n[x]\na.b = 1",
        "a = [\n  1, # one\n  2,\n]", "a = [1,,2]", "a = [,]", "a = []", "a=1#c", "\"\" = 1", "'' = 1", "a.\"\".b = 1",
        "a = \"\"\"\"\"\"\"", "a = '''''''", "a = \"\"\"a\"\"\"\"\"", "a = \"\"\"a\"\"\"\"\"\"", "a = 0b", "a = 0x_1", "a = 1_", "a = +0x1",
        "a = 1979-05-27T07:32:00Z", "a = \"\\u0000\"", "a = \"\u{7F}\"", "a = '\u{1F}'", "key = \"value\"\r\nother = 1\r\n",
        "a = 1\rb = 2", "[ a ]", "[ a . b ]", "[[ a ]]", "[ [a] ]", "[[a] ]", "a = { }", "a = {b=1,c=2}", "a.b = 1\na.c = 2\n[a.d]",
        "[a]\nb = 1\n[a.b]", "a = -nan", "a = +inf", "a = infinity", "a = true1", "a = \"\"\"\n\"\"\"", "a = '''\n\n'''",
        "a = \"\"\"\\\n\n  b\"\"\"", "a = \"\"\"\\  x\"\"\"", "a = 9223372036854775807\nb = -9223372036854775808",
    ]
}
