// The raw bytes of a published payload.

/// A payload's JSON bytes exactly as the backend sent them; never re-serialised
/// (docs/protocol.md "Internal API": what the browser receives is exactly what the backend sent).
public struct JSONPayload: Sendable, Equatable {
    /// One complete JSON value, already validated by the driving adapter.
    public let bytes: [UInt8]

    public init(validatedBytes bytes: [UInt8]) {
        self.bytes = bytes
    }
}
