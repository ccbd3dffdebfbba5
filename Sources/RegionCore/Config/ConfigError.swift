/// One problem in a configuration file, with where it is.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible, Codable {
    public var file: String
    public var line: Int
    /// The full key, e.g. `region[2].endpoint[0].timeout` (empty for syntax errors).
    public var key: String
    public var message: String

    public init(file: String, line: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `FILE:LINE: KEY: message`, the shape compilers use, so editors can jump to it.
    public var description: String {
        let location = self.line > 0 ? "\(self.file):\(self.line)" : self.file
        return self.key.isEmpty ? "\(location): \(self.message)" : "\(location): \(self.key): \(self.message)"
    }
}

/// A configuration that cannot be used. Carries every problem found, not just the first.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    public var description: String {
        self.issues.map(\.description).joined(separator: "\n")
    }
}
