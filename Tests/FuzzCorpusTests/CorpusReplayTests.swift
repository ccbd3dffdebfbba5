import Foundation
import RegionFuzzing
import Testing

/// Every input the fuzzers have saved, replayed through the same harnesses as plain tests:
/// `Tests/Fuzz/corpus/TARGET/` (seeds from the tests, and what `make fuzz` found that
/// reaches new code) and `Tests/Fuzz/regressions/TARGET/` (inputs that once broke a rule).
@Suite("fuzz corpus replay")
struct CorpusReplayTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ target: FuzzTarget) -> [URL] {
        ["corpus", "regressions"].flatMap { folder -> [URL] in
            let directory = Self.root.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            return names.sorted().map { directory.appendingPathComponent($0) }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everySavedInputKeepsEveryRule(_ target: FuzzTarget) throws {
        let inputs = Self.inputs(target)
        #expect(inputs.count >= 5, "the \(target.rawValue) corpus is missing (\(Self.root.path))")
        for url in inputs {
            let data = try Data(contentsOf: url)
            if let finding = target.run(Array(data)) {
                Issue.record("\(url.lastPathComponent): \(finding)")
            }
        }
    }
}
