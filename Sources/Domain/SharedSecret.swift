// The worker secret: guards the internal API and keys token signatures.

/// The shared secret between the backend and the worker. It never prints itself.
public struct SharedSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// docs/protocol.md "Configuration": shorter secrets are a fatal configuration error.
    public static let minimumLength = 32

    /// The secret's bytes, as the HMAC key.
    public let bytes: [UInt8]

    /// nil when `text` is shorter than `minimumLength` characters.
    public init?(_ text: String) {
        guard text.count >= Self.minimumLength else { return nil }
        bytes = Array(text.utf8)
    }

    /// Compares a presented `X-Worker-Secret` in constant time; an empty one never matches.
    /// Not generic, so no call crosses the module boundary through protocol witnesses (800
    /// instructions of a keep-alive publish).
    public func matches(_ presented: [UInt8]) -> Bool {
        !presented.isEmpty && presented.withUnsafeBytes { left in
            bytes.withUnsafeBytes { right in ConstantTime.equals(left, right) }
        }
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
