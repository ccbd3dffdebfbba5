import Foundation
import RegionCore

/// Random TOML documents for the differential test against Python's tomllib: mostly
/// well-formed, built from a small pool of names so that tables and keys collide
/// (the table-definition rules are where readers differ), then sometimes mutated.
struct TOMLGenerator {
    var random: JitterRandom

    init(seed: UInt64) {
        self.random = JitterRandom(seed: seed)
    }

    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self.random) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self.random)] }
    mutating func count(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self.random) }

    static let names = ["a", "b", "c", "region", "status", "x-y", "_k", "1", "endpoint"]

    mutating func keyPart() -> String {
        switch self.count(0...9) {
        case 0: return "\"" + self.pick(Self.names) + self.pick(["", " sp", "\\u0041", "\\t", "."]) + "\""
        case 1: return "'" + self.pick(Self.names) + self.pick(["", " x", "\\", "."]) + "'"
        case 2: return "\"\""
        default: return self.pick(Self.names)
        }
    }

    mutating func key() -> String {
        var parts = [self.keyPart()]
        if self.chance(0.3) { parts.append(self.keyPart()) }
        if self.chance(0.1) { parts.append(self.keyPart()) }
        return parts.joined(separator: self.pick([".", " . ", ".\t"]))
    }

    mutating func string() -> String {
        let pieces = ["ok", " ", "é", "\\n", "\\t", "\\\"", "\\\\", "\\u00e9", "\\U0001F600", "'", "#", "[", "=", "\\b", "\\f", "\\r", "\\e", "\\x41", "\\ud800"]
        var body = ""
        for _ in 0..<self.count(0...4) { body += self.pick(pieces) }
        switch self.count(0...7) {
        case 0: return "'" + body.replacingOccurrences(of: "'", with: "") + "'"
        case 1: return "'''" + self.pick(["", "\n"]) + body + self.pick(["", "'", "''", "\nmore"]) + "'''"
        case 2: return "\"\"\"" + self.pick(["", "\n"]) + body + self.pick(["", "\\\n   ", "\\  \n", "\"", "\"\"", "\n"]) + "x\"\"\""
        default: return "\"" + body.replacingOccurrences(of: "\"", with: "") + "\""
        }
    }

    mutating func number() -> String {
        switch self.count(0...14) {
        case 0: return self.pick(["0x", "0o", "0b"]) + self.pick(["1", "7f", "DEAD_beef", "1_0", "_1", "ffffffffffffffff", "2"])
        case 1: return self.pick(["inf", "+inf", "-inf", "nan", "+nan", "-nan"])
        case 2: return self.pick(["9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999"])
        case 3: return self.pick(["1e400", "-0.0", "+0.0", "0e0", "1E-5", "6.02e+23", "1.", ".5", "1e", "01", "00", "-01", "1__0", "1_000", "0.1_2"])
        case 4: return self.pick(["1979-05-27", "07:32:00", "1979-05-27T07:32:00Z", "1979-13-01", "1979-05-27 07:32:00.5"])
        default:
            let sign = self.pick(["", "", "-", "+"])
            var text = sign + String(self.count(0...100_000))
            if self.chance(0.3) { text += "." + String(self.count(0...999)) }
            if self.chance(0.2) { text += self.pick(["e", "E"]) + self.pick(["", "+", "-"]) + String(self.count(0...30)) }
            return text
        }
    }

    mutating func value(depth: Int = 0) -> String {
        switch self.count(0...9) {
        case 0, 1: return self.string()
        case 2, 3, 4: return self.number()
        case 5: return self.pick(["true", "false"])
        case 6 where depth < 3:
            let items = (0..<self.count(0...3)).map { _ in self.value(depth: depth + 1) }
            let separator = self.pick([", ", ",\n  ", " ,# note\n"])
            return "[" + self.pick(["", "\n"]) + items.joined(separator: separator) + self.pick(["", ",", ",\n", "\n"]) + "]"
        case 7 where depth < 3:
            let pairs = (0..<self.count(0...3)).map { _ in "\(self.key()) = \(self.value(depth: depth + 1))" }
            return "{" + self.pick([" ", ""]) + pairs.joined(separator: ", ") + self.pick([" ", ""]) + "}"
        default: return self.number()
        }
    }

    mutating func document() -> String {
        var lines: [String] = []
        for _ in 0..<self.count(1...12) {
            switch self.count(0...9) {
            case 0, 1: lines.append("[" + self.key() + "]")
            case 2: lines.append("[[" + self.key() + "]]")
            case 3: lines.append(self.pick(["", "# comment", "  ", "\t# tab"]))
            default: lines.append(self.key() + self.pick([" = ", "=", " =\t"]) + self.value() + self.pick(["", " # trailing", "  "]))
            }
        }
        var text = lines.joined(separator: self.chance(0.1) ? "\r\n" : "\n")
        if self.chance(0.35), !text.isEmpty {
            var scalars = Array(text.unicodeScalars)
            for _ in 0..<self.count(1...3) where !scalars.isEmpty {
                let index = self.count(0...(scalars.count - 1))
                switch self.count(0...2) {
                case 0: scalars.remove(at: index)
                case 1: scalars.insert(self.pick(["[", "]", "=", "\"", "'", "#", ".", ",", "{", "}", "\n", " ", "_", "0", "\t", "\u{07}", "\r", "\\"]), at: index)
                default: scalars.insert(contentsOf: scalars[index...].prefix(8), at: index)
                }
            }
            text = String(String.UnicodeScalarView(scalars))
        }
        return text
    }
}
