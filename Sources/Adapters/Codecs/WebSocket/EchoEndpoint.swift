// Echo mode: the same WebSocket adapter answering every message with itself, for Autobahn runs only.

/// Echoes text and binary messages, compressed when the handshake negotiated permessage-deflate.
public final class EchoEndpoint: WebSocketEndpoint {
    private let deflater: DeflaterPool?

    public init(deflater: DeflaterPool? = nil) {
        self.deflater = deflater
    }

    public func opened(_ socket: WebSocketConnection) {}

    public func received(_ message: WebSocketEvent, on socket: WebSocketConnection) {
        let (opcode, bytes): (UInt8, [UInt8])
        switch message {
        case .text(let text): (opcode, bytes) = (WebSocketFrameEncoder.textOpcode, text)
        case .binary(let binary): (opcode, bytes) = (WebSocketFrameEncoder.binaryOpcode, binary)
        default: return
        }
        let compressed = deflater.flatMap { pool in
            bytes.withUnsafeBytes { raw in pool.compress(raw) { WebSocketFrameEncoder.frame(opcode: opcode, compressed: true, parts: [$0]) } }
        }
        socket.send(compressed ?? bytes.withUnsafeBytes { WebSocketFrameEncoder.frame(opcode: opcode, parts: [$0]) })
    }

    public func closed(_ socket: WebSocketConnection) {}
}

/// Upgrades every request on the echo listener; conformance tests need large messages.
public final class EchoResponder: HTTPResponder {
    /// Longer than the longest Autobahn case may run (480 s, the large permessage-deflate cases
    /// on a slow machine). Those cases end, failed, at the first frame that is not their echo:
    /// a keep-alive ping from us after the usual 30 s was exactly that.
    public static let pingInterval: Duration = .seconds(900)

    public let settings: WebSocketSettings

    public init(maxMessageBytes: Int = 16 << 20) {
        var settings = WebSocketSettings()
        settings.maxMessageBytes = maxMessageBytes
        settings.pingInterval = Self.pingInterval
        settings.idleTimeout = Self.pingInterval * 2
        self.settings = settings
    }

    private let inflater = RawInflater()
    private var deflaters: [Int: DeflaterPool] = [:]

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        switch WebSocketHandshake.validate(request.head) {
        case .success(let key):
            let deflate = WebSocketHandshake.deflateOffer(request.head)
            let pool = deflate.map { offer in
                deflaters[offer.serverWindowBits] ?? {
                    let pool = DeflaterPool(windowBits: offer.serverWindowBits, level: 6)
                    deflaters[offer.serverWindowBits] = pool
                    return pool
                }()
            }
            let socket = WebSocketConnection(
                connection: connection, endpoint: EchoEndpoint(deflater: pool), settings: settings, inflater: deflate == nil ? nil : inflater)
            return .upgrade(WebSocketHandshake.response(key: key, extensions: deflate?.responseValue), socket)
        case .failure:
            return .respond(HTTPResponse.text(.badRequest, "bad request", keepAlive: false), keepAlive: false)
        }
    }

    public func reject(_ error: HTTPParseError) -> EncodedFrame {
        HTTPResponse.text(error.status, "bad request", keepAlive: false)
    }
}
