// Echo mode: the same WebSocket adapter answering every message with itself, for Autobahn runs only.

/// Echoes text and binary messages.
public final class EchoEndpoint: WebSocketEndpoint {
    public init() {}

    public func opened(_ socket: WebSocketConnection) {}

    public func received(_ message: WebSocketEvent, on socket: WebSocketConnection) {
        switch message {
        case .text(let bytes): socket.send(WebSocketFrameEncoder.text(bytes))
        case .binary(let bytes): socket.send(WebSocketFrameEncoder.binary(bytes))
        default: break
        }
    }

    public func closed(_ socket: WebSocketConnection) {}
}

/// Upgrades every request on the echo listener; conformance tests need large messages.
public final class EchoResponder: HTTPResponder {
    private let settings: WebSocketSettings

    public init(maxMessageBytes: Int = 16 << 20) {
        var settings = WebSocketSettings()
        settings.maxMessageBytes = maxMessageBytes
        self.settings = settings
    }

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        switch WebSocketHandshake.validate(request.head) {
        case .success(let key):
            return .upgrade(WebSocketHandshake.response(key: key), WebSocketConnection(connection: connection, endpoint: EchoEndpoint(), settings: settings))
        case .failure:
            return .respond(HTTPResponse.text(.badRequest, "bad request", keepAlive: false), keepAlive: false)
        }
    }

    public func reject(_ error: HTTPParseError) -> EncodedFrame {
        HTTPResponse.text(error.status, "bad request", keepAlive: false)
    }
}
