// The public listener's transport on one loop: the handshake, the loop's subscriber shard, fan-out.
public import Application
public import Domain
public import Logging
internal import Synchronization

/// Serves `/ws` on one loop: validates the handshake (PROTOCOL.md "Browser endpoint"), upgrades,
/// and owns this loop's shard of subscriptions. Everything here runs on `loop`.
public final class WebSocketTransport: Transport, HTTPResponder {
    /// PROTOCOL.md item 4: at most one status answer per 700 ms per socket.
    static let statusInterval: Duration = .milliseconds(700)
    /// How often this loop checks for expired tokens (seconds are the tokens' resolution).
    static let expiryCheckInterval: Duration = .seconds(1)

    public struct Settings: Sendable {
        public var webSocket = WebSocketSettings()
        public var authTimeout: Duration = .seconds(10)
        /// Empty: every origin is accepted.
        public var allowedOrigins: Set<String> = []

        public init() {}
    }

    let broker: Broker
    let logger: Logger
    let frames: SubscriberFrames
    let settings: Settings
    let counters: WebSocketCounters
    public let loop: EventLoop
    var index = SubscriptionIndex<SessionKey>()
    /// `index.count`, readable from other loops: the fan-out skips a loop with no subscribers
    /// instead of waking it for nothing. Updated after every change to `index`.
    private let subscribedCount = Atomic<Int>(0)
    private var sessions: [ObjectIdentifier: SubscriberSession] = [:]
    private lazy var http = HTTPTransport(responder: self)
    private var draining = false

    var authTimeout: Duration { settings.authTimeout }

    private let missingTopic = CannedResponse { HTTPResponse.text(.badRequest, "missing topic", keepAlive: $0) }
    private let badRequest = CannedResponse { HTTPResponse.text(.badRequest, "bad request", keepAlive: $0) }
    private let notRegistered = CannedResponse { HTTPResponse.text(.notFound, "topic not registered", keepAlive: $0) }
    private let notFound = CannedResponse { HTTPResponse.text(.notFound, "not found", keepAlive: $0) }
    private let forbidden = CannedResponse { HTTPResponse.text(.forbidden, "forbidden", keepAlive: $0) }
    private let upgradeRequired = CannedResponse {
        HTTPResponse.text(.upgradeRequired, "upgrade required", keepAlive: $0, extraHeaders: [("Sec-WebSocket-Version", "13")])
    }

    public init(loop: EventLoop, broker: Broker, settings: Settings, frames: SubscriberFrames, counters: WebSocketCounters, logger: Logger) {
        self.loop = loop
        self.broker = broker
        self.settings = settings
        self.frames = frames
        self.counters = counters
        self.logger = logger
    }

    /// Starts this loop's token-expiry checks. Call on the loop (or before it runs).
    public func start() {
        scheduleExpiryCheck()
    }

    // MARK: - Transport

    public func accepted(_ connection: Connection) {
        http.accepted(connection)
    }

    public func drain() {
        draining = true
        http.drain()
        for session in Array(sessions.values) { session.goAway() }
    }

    public func closeAll() {
        http.closeAll()
        for session in Array(sessions.values) { session.socket?.connection.close() }
    }

    public var openConnectionCount: Int { http.openConnectionCount + sessions.count }

    // MARK: - Handshake

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        let keepAlive = head.keepAlive
        guard head.pathIs("/ws") else { return .respond(notFound.frame(keepAlive: keepAlive), keepAlive: keepAlive) }
        guard let topicText = head.queryValue("topic"), !topicText.isEmpty else {
            return .respond(missingTopic.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        }
        guard let topic = TopicName(topicText) else { return .respond(badRequest.frame(keepAlive: keepAlive), keepAlive: keepAlive) }
        guard broker.topics.lookup(topic, now: broker.clock.monotonic) != nil else {
            // Not in the local view: in a cluster it may have been registered elsewhere a moment ago.
            // The Redis answer arrives on another loop; only this loop opens the box.
            let confined = HandshakeContext(transport: self, connection: connection)
            return .deferred { [broker] reply in
                broker.topics.lookupThrough(topic, now: broker.clock.monotonic) { meta in
                    reply.resume {
                        let (transport, connection) = (confined.transport, confined.connection)
                        guard meta != nil else { return .respond(transport.notRegistered.frame(keepAlive: keepAlive), keepAlive: keepAlive) }
                        return transport.upgrade(request, topic: topic, from: connection)
                    }
                }
            }
        }
        return upgrade(request, topic: topic, from: connection)
    }

    /// The checks after the topic: a WebSocket handshake, version 13, an allowed origin.
    private func upgrade(_ request: HTTPRequest, topic: TopicName, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        let keepAlive = head.keepAlive
        let key: String
        switch WebSocketHandshake.validate(head) {
        case .success(let clientKey): key = clientKey
        case .failure(.notWebSocket): return .respond(badRequest.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        case .failure(.unsupportedVersion): return .respond(upgradeRequired.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        }
        if !settings.allowedOrigins.isEmpty {
            guard let origin = head.headers.origin, settings.allowedOrigins.contains(origin) else {
                logger.info("origin refused", metadata: ["ip": "\(connection.peerHost)", "origin": "\((head.headers.origin ?? "").prefix(256))"])
                return .respond(forbidden.frame(keepAlive: keepAlive), keepAlive: keepAlive)
            }
        }
        if draining { return .respond(HTTPResponse.text(.serviceUnavailable, "shutting down", keepAlive: false), keepAlive: false) }
        let session = SubscriberSession(topic: topic, clientIP: Self.clientIP(head.headers, peer: connection.peerHost), shard: self)
        let socket = WebSocketConnection(connection: connection, endpoint: session, settings: settings.webSocket)
        return .upgrade(WebSocketHandshake.response(key: key), socket)
    }

    public func reject(_ error: HTTPParseError) -> EncodedFrame {
        HTTPResponse.text(error.status, error == .headersTooLarge ? "request header fields too large" : "bad request", keepAlive: false)
    }

    /// The browser's address as a proxy reports it: the first X-Forwarded-For entry, else X-Real-IP,
    /// else the TCP peer. Bounded here; the log handler escapes it, as it escapes every value.
    static func clientIP(_ headers: HTTPHeaders, peer: String) -> String {
        if let forwarded = headers.forwardedFor?.split(separator: ",").first?.trimmingSpaces(), !forwarded.isEmpty {
            return String(forwarded.prefix(64))
        }
        if let real = headers.realIP.map({ Substring($0).trimmingSpaces() }), !real.isEmpty { return String(real.prefix(64)) }
        return peer
    }

    // MARK: - Sessions

    func sessionOpened(_ session: SubscriberSession) {
        sessions[ObjectIdentifier(session)] = session
        counters.opened()
    }

    func sessionClosed(_ session: SubscriberSession) {
        if sessions.removeValue(forKey: ObjectIdentifier(session)) != nil { counters.closed() }
    }

    func slowConsumerClosed(_ session: SubscriberSession) {
        counters.slowConsumerClosed()
        logger.info("client too slow", metadata: ["ip": "\(session.clientIP)", "topic": "\(session.topic.value)", "close.code": "1013"])
    }

    // MARK: - Fan-out (on this loop)

    func indexChanged() {
        subscribedCount.store(index.count, ordering: .relaxed)
    }

    /// Whether any socket of this loop is subscribed. Any thread; may lag a subscribe by one
    /// publish, which is the same race a publish and a subscribe always have.
    public var hasSubscribers: Bool { subscribedCount.load(ordering: .relaxed) > 0 }

    /// Writes the shared `frame` to every subscriber of `topic` on this loop.
    /// O(subscribers of the topic on this loop); no allocation or copy per subscriber.
    public func deliver(_ frame: EncodedFrame, to topic: TopicName) {
        for key in index.subscribers(of: topic) { key.session.push(frame) }
    }

    private func scheduleExpiryCheck() {
        loop.schedule(after: Self.expiryCheckInterval) { [weak self] _ in
            guard let self else { return }
            let expired = self.broker.expireTokens(in: &self.index)
            if !expired.isEmpty { self.indexChanged() }
            for key in expired { key.session.tokenExpired() }
            self.scheduleExpiryCheck()
        }
    }
}

/// A handshake waiting for a Redis answer, carried back to its loop; only that loop reads it.
private final class HandshakeContext: @unchecked Sendable {
    let transport: WebSocketTransport
    let connection: Connection

    init(transport: WebSocketTransport, connection: Connection) {
        self.transport = transport
        self.connection = connection
    }
}

/// Node-wide WebSocket counters, read by status and metrics.
public final class WebSocketCounters: Sendable {
    private let open = Atomic<Int>(0)
    private let slow = Atomic<Int>(0)

    public init() {}

    func opened() { open.wrappingAdd(1, ordering: .relaxed) }
    func closed() { open.wrappingSubtract(1, ordering: .relaxed) }
    func slowConsumerClosed() { slow.wrappingAdd(1, ordering: .relaxed) }

    /// Upgraded sockets, authenticated or not.
    public var openSockets: Int { open.load(ordering: .relaxed) }
    /// Sockets closed with 1013 because their queue overflowed.
    public var slowConsumersClosed: Int { slow.load(ordering: .relaxed) }
}
