#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// What RegionCore needed from Foundation's text API, without it: RegionCore and
// regionctl import only FoundationEssentials, so regionctl starts without loading
// Foundation and ICU (docs/performance.md, regionctl start-up).

/// printf-style formatting of numbers (C's vsnprintf: the same digits `String(format:)` gave).
public func cFormat(_ format: String, _ arguments: any CVarArg...) -> String {
    withVaList(arguments) { list in
        var buffer = [CChar](repeating: 0, count: 64)
        let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
        guard needed >= 0 else { return "" }  // an encoding error: nothing was written
        guard needed >= buffer.count else { return text(buffer, needed) }
        // Longer than 63 bytes (a %g of a huge value in a long format): once more, sized.
        return withVaList(arguments) { again in
            var larger = [CChar](repeating: 0, count: needed + 1)
            _ = vsnprintf(&larger, larger.count, format, again)
            return text(larger, needed)
        }
    }
}

/// The first `count` bytes vsnprintf wrote, as text.
private func text(_ buffer: [CChar], _ count: Int) -> String {
    buffer.withUnsafeBytes { String(decoding: $0.prefix(count), as: UTF8.self) }
}

extension Unicode.Scalar {
    /// Foundation's `CharacterSet.whitespaces` (CoreFoundation's table, not a Unicode
    /// property: it holds U+200B, which Unicode does not count as a space).
    var isSpaceOrTab: Bool {
        switch self.value {
        case 0x09, 0x20, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// Foundation's `CharacterSet.whitespacesAndNewlines`: those, and U+000A to U+000D,
    /// U+0085, U+2028, U+2029.
    var isSpaceOrNewline: Bool {
        self.isSpaceOrTab || (0x0A...0x0D).contains(self.value) || self.value == 0x85 || self.value == 0x2028 || self.value == 0x2029
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (`trimmingCharacters(in: .whitespaces)`).
    public var trimmingSpaces: String { self.trimming(\.isSpaceOrTab) }

    /// Without leading and trailing spaces, tabs and line breaks (`.whitespacesAndNewlines`).
    public var trimmingSpacesAndNewlines: String { self.trimming(\.isSpaceOrNewline) }

    func trimming(_ drop: (Unicode.Scalar) -> Bool) -> String {
        let scalars = self.unicodeScalars
        guard let first = scalars.firstIndex(where: { !drop($0) }), let last = scalars.lastIndex(where: { !drop($0) }) else { return "" }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: scalars[first...last])
        return String(kept)
    }
}

/// The last component of a path, as `NSString.lastPathComponent` gives it:
/// `/usr/bin/check` → `check`, `dir/` → `dir`, `/` → `/` (and, as there, `//` → ``).
func lastPathComponent(_ path: String) -> String {
    if path == "/" { return "/" }
    var trimmed = Substring(path)
    while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    return String(trimmed.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
}
