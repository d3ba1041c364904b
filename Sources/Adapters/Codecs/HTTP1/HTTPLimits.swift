// Every bound of the HTTP/1.1 server, named once.

/// Limits of the HTTP/1.1 parser and server (docs/protocol.md "Listeners" and "Internal API").
public enum HTTPLimits {
    /// Request line plus headers; more is 431.
    public static let maxHeadBytes = 16 * 1024
    /// Header fields per request; more is 431.
    public static let maxHeaderCount = 100
    /// Request body, decoded; more is 413, decided as soon as a length is declared.
    public static let maxBodyBytes = 1 << 20
    /// A chunk-size line with its extensions.
    static let maxChunkLineBytes = 1024
}

/// The three deadlines of an HTTP connection; tests shorten them, the worker uses `standard`.
public struct HTTPTimeouts: Sendable {
    /// From the first byte of a request to its complete head (slow-loris defence).
    public var head: Duration
    /// From the first byte of a request to its complete body.
    public var request: Duration
    /// An idle keep-alive connection is closed after this.
    public var keepAlive: Duration

    public init(head: Duration, request: Duration, keepAlive: Duration) {
        self.head = head
        self.request = request
        self.keepAlive = keepAlive
    }

    public static let standard = HTTPTimeouts(head: .seconds(10), request: .seconds(30), keepAlive: .seconds(30))
}
