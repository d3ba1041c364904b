// A configuration error: one line, naming the key.

/// Why the configuration was refused. `description` is the line printed before exiting.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The key at fault, or nil for file-level problems (unreadable, syntax).
    public let key: String?
    public let message: String
    /// Where in the file, when the problem came from the file.
    public let mark: SourceMark?
    /// The environment variable the value came from, when it did.
    public let environmentVariable: String?

    public init(key: String?, message: String, mark: SourceMark? = nil, environmentVariable: String? = nil) {
        self.key = key
        self.message = message
        self.mark = mark
        self.environmentVariable = environmentVariable
    }

    public var description: String {
        var line = "config: "
        if let key { line += "\(key): " }
        line += message
        if let environmentVariable { line += " (from \(environmentVariable))" } else if let mark { line += " (\(mark))" }
        return line
    }
}
