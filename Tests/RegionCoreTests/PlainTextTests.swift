import Foundation
import Testing

@testable import RegionCore

/// RegionCore's text helpers replaced Foundation's (`PlainText.swift`) so regionctl need
/// not load Foundation. Each must give what Foundation gave: compared here, input for
/// input, with Foundation itself.
@Suite("Plain text helpers agree with Foundation")
struct PlainTextTests {
    /// Spaces of every kind Foundation knows, line breaks, and ordinary characters.
    static let pieces: [String] = [
        " ", "\t", "\n", "\r", "\r\n", "\u{0B}", "\u{0C}", "\u{85}", "\u{A0}", "\u{2003}", "\u{2028}", "\u{2029}", "\u{3000}", "\u{200B}", "\u{200C}", "\u{180E}", "\u{1680}", "\u{202F}", "\u{205F}", "\u{FEFF}", "\u{1F}",
        "a", "é", "e\u{301}", "🇪🇺", "-", "%", "0", ".",
    ]

    static func generated(count: Int) -> [String] {
        var rng = SplitMix64(state: 0x5eed)
        return (0..<count).map { _ in
            (0..<Int(rng.next() % 7)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
        }
    }

    @Test func trimmingMatchesCharacterSets() {
        for text in Self.generated(count: 5_000) {
            #expect(text.trimmingSpaces == text.trimmingCharacters(in: .whitespaces), "\(Array(text.unicodeScalars))")
            #expect(text.trimmingSpacesAndNewlines == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(Array(text.unicodeScalars))")
        }
    }

    @Test(arguments: ["%g", "%.1f", "%.2f", "%.4f", "%g%%", "%.1f ms"])
    func cFormatMatchesStringFormat(format: String) {
        var rng = SplitMix64(state: 42)
        let special: [Double] = [0, -0.0, 0.25, 0.35, 0.05, 0.125, 1e15, -1e15, 1e300, .leastNonzeroMagnitude, .infinity, -.infinity, .nan, 9.95, 99.95]
        let values = special + (0..<2_000).map { _ in Double(bitPattern: rng.next()) } + (0..<2_000).map { _ in Double(rng.next() % 100_000) / 1_000 }
        for value in values {
            #expect(cFormat(format, value) == String(format: format, value), "\(format) of \(value)")
        }
    }

    @Test(arguments: ["/usr/bin/check", "check", "dir/", "/", "//", "///", "a///", "", "a//b", "/a/b/", "./x", "../", "with space/name"])
    func lastPathComponentMatchesNSString(path: String) {
        #expect(lastPathComponent(path) == (path as NSString).lastPathComponent)
    }
}
