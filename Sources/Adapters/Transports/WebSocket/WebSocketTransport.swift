// The Wavelog WebSocket transport: `GET /ws?topic=` upgraded, auth frame, JSON push frames.
public import Application
public import Domain
public import Logging

/// The Wavelog protocol over WebSocket (docs/protocol.md "Browser endpoint"), as a browser
/// transport: one route per loop, one wire format (the push frame).
public struct WebSocketTransport: BrowserTransport {
    public static let name = "websocket"
    /// At most one status answer per 700 ms per socket (docs/protocol.md, the `worker.status` topic).
    static let statusInterval: Duration = .milliseconds(700)

    public struct Settings: Sendable {
        public var webSocket = WebSocketSettings()
        public var authTimeout: Duration = .seconds(10)

        public init() {}
    }

    let settings: Settings
    let frames = SubscriberFrames()
    let format: WireFormat

    /// Registers the push frame as a wire format of the node.
    public init(settings: Settings, formats: WireFormats) {
        self.settings = settings
        format = formats.register(Self.name, PushFrameEncoder())
    }

    public func install(in context: TransportContext) -> [any Drainable] {
        context.router.add(.get, .exact("/ws"), WebSocketRoute(transport: self, context: context))
        return []
    }
}

/// `{"type":"push","payload":<payload>}` in one text frame: the only encoding a publish gets here.
struct PushFrameEncoder: EventEncoder {
    func encode(_ event: PublishedEvent) -> EncodedFrame {
        WebSocketFrameEncoder.push(payload: event.payload.bytes)
    }
}

/// The handshake of `/ws` on one loop: topic, registration, WebSocket upgrade, origin. Its
/// sessions reach the engine and the constant frames through it; stored properties, so a
/// session reads them in place instead of copying a struct of references per access.
final class WebSocketRoute: RouteHandler {
    let transport: WebSocketTransport
    let context: TransportContext
    let frames: SubscriberFrames
    let format: WireFormat
    let authTimeout: Duration
    let shard: SubscriberShard
    let broker: Broker
    let logger: Logger

    init(transport: WebSocketTransport, context: TransportContext) {
        self.transport = transport
        self.context = context
        frames = transport.frames
        format = transport.format
        authTimeout = transport.settings.authTimeout
        shard = context.shard
        broker = context.broker
        logger = context.logger
    }

    func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let keepAlive = request.head.keepAlive
        switch context.admission.requestedTopic(request.head) {
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive)
        case .success(let topic):
            return context.admission.resolve(topic, from: connection, keepAlive: keepAlive) { [self] _ in
                upgrade(request, topic: topic, from: connection)
            }
        }
    }

    /// The checks after the topic: a WebSocket handshake, version 13, then admission.
    private func upgrade(_ request: HTTPRequest, topic: TopicName, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        let keepAlive = head.keepAlive
        let key: String
        switch WebSocketHandshake.validate(head) {
        case .success(let clientKey): key = clientKey
        case .failure(.notWebSocket): return PlainAnswers.respond(.badRequest, keepAlive: keepAlive)
        case .failure(.unsupportedVersion): return PlainAnswers.respond(.upgradeRequired, keepAlive: keepAlive)
        }
        switch context.admission.admit(head, from: connection, shard: context.shard, originRequired: true) {
        case .failure(.shuttingDown): return PlainAnswers.respond(.shuttingDown, keepAlive: false)
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive)
        case .success(let clientIP):
            let session = SubscriberSession(connection: connection, topic: topic, clientIP: clientIP, route: self)
            let socket = WebSocketConnection(connection: connection, endpoint: session, settings: transport.settings.webSocket)
            return .upgrade(WebSocketHandshake.response(key: key), socket)
        }
    }
}
