// Encodes responses; the constant ones once, at start-up (docs/development.md "Encode once").

/// Builds HTTP/1.1 responses as shareable frames.
public enum HTTPResponse {
    /// `HTTP/1.1 100 Continue`, for `Expect: 100-continue` (PHP's curl sends it for bodies over 1 KiB).
    public static let continueFrame = EncodedFrame("HTTP/1.1 100 Continue\r\n\r\n")

    /// A response with `body`; `Connection: close` when the connection will not be reused.
    public static func encode(
        _ status: HTTPStatus, contentType: String? = nil, body: [UInt8] = [], keepAlive: Bool,
        extraHeaders: [(String, String)] = []
    ) -> EncodedFrame {
        let headBytes = Self.head(status, contentType: contentType, contentLength: body.count, keepAlive: keepAlive, extraHeaders: extraHeaders)
        return EncodedFrame(count: headBytes.count + body.count) { out in
            headBytes.withUnsafeBytes { out.copyMemory(from: $0) }
            if !body.isEmpty {
                body.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[headBytes.count...]).copyMemory(from: $0) }
            }
        }
    }

    /// The head alone of the answer `encode` gives: the answer to HEAD, whose `Content-Length`
    /// is the body's a GET would get (RFC 9110 §9.3.2).
    public static func headOnly(_ status: HTTPStatus, contentType: String? = nil, bodyLength: Int, keepAlive: Bool) -> EncodedFrame {
        let bytes = head(status, contentType: contentType, contentLength: bodyLength, keepAlive: keepAlive, extraHeaders: [])
        return EncodedFrame(count: bytes.count) { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
    }

    private static func head(
        _ status: HTTPStatus, contentType: String?, contentLength: Int, keepAlive: Bool, extraHeaders: [(String, String)]
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status.code) \(status.reason)\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        head += "Content-Length: \(contentLength)\r\n"
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8)
    }

    /// A plain-text error response; the body is `message` and a newline (docs/protocol.md "Listeners").
    public static func text(_ status: HTTPStatus, _ message: String, keepAlive: Bool, extraHeaders: [(String, String)] = []) -> EncodedFrame {
        encode(status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8), keepAlive: keepAlive, extraHeaders: extraHeaders)
    }
}

/// A response built once for both connection modes.
public struct CannedResponse: Sendable {
    public let keepAlive: EncodedFrame
    public let close: EncodedFrame

    public init(_ build: (Bool) -> EncodedFrame) {
        keepAlive = build(true)
        close = build(false)
    }

    public func frame(keepAlive: Bool) -> EncodedFrame {
        keepAlive ? self.keepAlive : close
    }
}
