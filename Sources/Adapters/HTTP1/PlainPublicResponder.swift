// The public listener before the WebSocket transport: plain HTTP answers only.

/// Answers `/ws` without an upgrade with 400 and anything else with 404.
public final class PlainPublicResponder: HTTPResponder {
    private let notWebSocket = CannedResponse { HTTPResponse.text(.badRequest, "bad request", keepAlive: $0) }
    private let notFound = CannedResponse { HTTPResponse.text(.notFound, "not found", keepAlive: $0) }
    private let rejected = HTTPResponse.text(.badRequest, "bad request", keepAlive: false)

    public init() {}

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let keepAlive = request.head.keepAlive
        let answer = request.head.path == "/ws" ? notWebSocket : notFound
        return .respond(answer.frame(keepAlive: keepAlive), keepAlive: keepAlive)
    }

    public func reject(_ error: HTTPParseError) -> EncodedFrame {
        error == .payloadTooLarge || error == .headersTooLarge || error == .versionNotSupported
            ? HTTPResponse.text(error.status, "bad request", keepAlive: false) : rejected
    }
}
