// The Wavelog WebSocket transport: `GET /ws?topic=` upgraded, auth frame, JSON push frames.
public import Application
public import Domain
public import Logging

/// The Wavelog protocol over WebSocket (docs/protocol.md "Browser endpoint (WebSocket)"), as a
/// browser transport: one route per loop, one wire format (the push frame).
public struct WebSocketTransport: BrowserTransport {
    public static let name = "websocket"
    /// At most one status answer per 700 ms per socket
    /// (docs/protocol.md "Browser endpoint (WebSocket)", rule 4: the `worker.status` topic).
    static let statusInterval: Duration = .milliseconds(700)

    public struct Settings: Sendable {
        public var webSocket = WebSocketSettings()
        public var authTimeout: Duration = .seconds(10)
        /// permessage-deflate for clients that offer it; nil declines every offer.
        public var compression: Compression? = Compression()

        public init() {}
    }

    /// How pushes are compressed (RFC 7692), once per publish for all who negotiated it.
    public struct Compression: Sendable {
        /// Push messages shorter than this go uncompressed (RSV1 clear): deflate gains nothing there.
        public var threshold = 256
        /// zlib's level, 1 (fastest) to 9 (smallest).
        public var level = 6

        public init() {}
    }

    let settings: Settings
    let frames = SubscriberFrames()
    let format: WireFormat
    /// The compressed push per server window size a client may ask for (9-15 bits); a format is
    /// encoded only while someone reads it, so the six narrower ones cost nothing unless asked for.
    let deflateFormats: [Int: WireFormat]

    /// Registers the push frame, and its compressed forms, as wire formats of the node.
    public init(settings: Settings, formats: WireFormats) {
        self.settings = settings
        format = formats.register(Self.name, PushFrameEncoder(), retainedForHistory: true)
        var deflated: [Int: WireFormat] = [:]
        if let compression = settings.compression {
            for bits in 9...15 {
                let pool = DeflaterPool(windowBits: bits, level: compression.level)
                deflated[bits] = formats.register("\(Self.name)+deflate\(bits)", DeflatedPushEncoder(pool: pool, threshold: compression.threshold))
            }
        }
        deflateFormats = deflated
    }

    public var wireFormats: [WireFormat] { [format] + deflateFormats.values.sorted { $0.index < $1.index } }

    public func install(in context: TransportContext, router: Router) -> [any Drainable] {
        router.add(.get, .exact("/ws"), WebSocketRoute(transport: self, context: context))
        return []
    }
}

/// `{"type":"push","payload":<payload>}` in one text frame; `"offset":"<epoch>-<offset>"` follows
/// the payload for a topic with history.
struct PushFrameEncoder: EventEncoder {
    func encode(_ event: PublishedEvent) -> EncodedFrame {
        WebSocketFrameEncoder.push(payload: event.payload.bytes, offset: event.position)
    }
}

/// The same push message deflated once for every subscriber that negotiated permessage-deflate
/// with this window size: raw deflate, sync flush, the trailing `00 00 ff ff` removed.
struct DeflatedPushEncoder: EventEncoder {
    let pool: DeflaterPool
    let threshold: Int

    func encode(_ event: PublishedEvent) -> EncodedFrame {
        WebSocketFrameEncoder.deflatedPush(payload: event.payload.bytes, offset: event.position, pool: pool, threshold: threshold)
    }
}

/// The handshake of `/ws` on one loop: topic, registration, WebSocket upgrade, origin. Its
/// sessions reach the engine and the constant frames through it; stored properties, so a
/// session reads them in place instead of copying a struct of references per access.
final class WebSocketRoute: RouteHandler, TopicRoute {
    let transport: WebSocketTransport
    let context: TransportContext
    let frames: SubscriberFrames
    let format: WireFormat
    let authTimeout: Duration
    let shard: SubscriberShard
    let broker: Broker
    let logger: Logger
    /// Lent to a connection of this loop while a compressed message from its client completes.
    let inflater = RawInflater()

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
        context.admission.admitTopic(request, from: connection, to: self)
    }

    /// The checks after the topic: a WebSocket handshake, version 13, then admission.
    func answer(_ request: HTTPRequest, topic: TopicName, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        let keepAlive = head.keepAlive
        let key: String
        switch context.admission.webSocketKey(head, from: connection) {
        case .success(let clientKey): key = clientKey
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive)
        }
        switch context.admission.admit(head, from: connection, shard: context.shard, originRequired: true) {
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive && !refusal.endsConnection)
        case .success(let clientIP):
            // Compression only when offered and on; an offer we cannot honour is declined by
            // answering without the extension, never by failing the handshake.
            let deflate = transport.deflateFormats.isEmpty ? nil : WebSocketHandshake.deflateOffer(head)
            let format = deflate.flatMap { transport.deflateFormats[$0.serverWindowBits] } ?? transport.format
            let session = SubscriberSession(connection: connection, topic: topic, clientIP: clientIP, format: format, route: self)
            let socket = WebSocketConnection(
                connection: connection, endpoint: session, settings: transport.settings.webSocket,
                inflater: deflate == nil ? nil : inflater)
            return .upgrade(WebSocketHandshake.response(key: key, extensions: deflate?.responseValue), socket)
        }
    }
}
