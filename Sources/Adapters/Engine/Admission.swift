// Whether a subscription may start: topic, origin, client address, draining. One rule for every transport.
public import Application
public import Domain
public import Logging

/// The admission rules every browser transport applies before it starts a subscription.
///
/// The order is the Wavelog protocol's: the topic query (400), the topic's registration (404),
/// then, after the transport's own handshake checks, the origin (403) and draining (503).
public struct Admission: Sendable {
    /// Settings of the rules.
    public struct Policy: Sendable {
        /// Empty: every origin is accepted.
        public var allowedOrigins: Set<String> = []

        public init() {}
    }

    /// A refusal, with the plain-text answer the transport gives before any upgrade.
    public typealias Refusal = PlainAnswer

    let broker: Broker
    let policy: Policy
    let logger: Logger

    public init(broker: Broker, policy: Policy, logger: Logger) {
        self.broker = broker
        self.policy = policy
        self.logger = logger
    }

    /// Reads `?topic=`: 400 `missing topic` when absent or empty, 400 `bad request` when invalid.
    func requestedTopic(_ head: HTTPRequestHead) -> Result<TopicName, Refusal> {
        guard let text = head.queryValue("topic"), !text.isEmpty else { return .failure(.missingTopic) }
        guard let topic = TopicName(text) else { return .failure(.badRequest) }
        return .success(topic)
    }

    /// Reads `?topic=` (400), resolves it (404 `topic not registered` when nobody registered it),
    /// then lets `route` answer for it. A topic the local view knows is answered at once, with
    /// no closure built; only one known to the cluster store alone defers the request, without
    /// blocking the loop, and `route` answers on the connection's loop later.
    public func admitTopic(_ request: HTTPRequest, from connection: Connection, to route: some TopicRoute) -> HTTPResponderAction {
        let keepAlive = request.head.keepAlive
        let topic: TopicName
        switch requestedTopic(request.head) {
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive)
        case .success(let requested): topic = requested
        }
        if broker.resolveTopic.locally(topic) != nil { return route.answer(request, topic: topic, from: connection) }
        // In a cluster it may have been registered elsewhere a moment ago. The answer arrives on
        // another thread; only the connection's loop opens the box.
        let confined = LoopBound((route, request, connection))
        return .deferred { [broker] reply in
            broker.resolveTopic.throughCluster(topic) { meta in
                reply.resume {
                    guard meta != nil else { return PlainAnswers.respond(.topicNotRegistered, keepAlive: keepAlive) }
                    let (route, request, connection) = confined.value
                    return route.answer(request, topic: topic, from: connection)
                }
            }
        }
    }

    /// The checks after the transport's handshake: the origin allowlist and draining.
    /// - Parameter originRequired: whether a request without `Origin` is refused when an allowlist
    ///   is set. Browsers always send it on a WebSocket handshake, but not on a same-origin
    ///   `EventSource` request.
    public func admit(_ head: HTTPRequestHead, from connection: Connection, shard: SubscriberShard, originRequired: Bool) -> Result<String, Refusal> {
        if !policy.allowedOrigins.isEmpty {
            let origin = head.headers.origin
            let allowed = origin.map { policy.allowedOrigins.contains($0) } ?? !originRequired
            guard allowed else {
                logger.info("origin refused", metadata: ["ip": "\(connection.peerHost)", "origin": "\((origin ?? "").prefix(256))"])
                return .failure(.forbidden)
            }
        }
        if shard.draining { return .failure(.shuttingDown) }
        return .success(Self.clientIP(head.headers, peer: connection.peerHost))
    }

    /// Whether `origin` may read responses cross-origin (CORS): every origin without an allowlist.
    public func allowsCrossOrigin(_ origin: String) -> Bool {
        policy.allowedOrigins.isEmpty || policy.allowedOrigins.contains(origin)
    }

    /// The browser's address as a proxy reports it: the first X-Forwarded-For entry, else X-Real-IP,
    /// else the TCP peer. Bounded here; the log handler escapes it, as it escapes every value.
    public static func clientIP(_ headers: HTTPHeaders, peer: String) -> String {
        if let forwarded = headers.forwardedFor?.split(separator: ",").first?.trimmingSpaces(), !forwarded.isEmpty {
            return String(forwarded.prefix(64))
        }
        if let real = headers.realIP.map({ Substring($0).trimmingSpaces() }), !real.isEmpty { return String(real.prefix(64)) }
        return peer
    }
}

/// A transport's answer to a request once its topic is known to be registered.
public protocol TopicRoute: AnyObject {
    func answer(_ request: HTTPRequest, topic: TopicName, from connection: Connection) -> HTTPResponderAction
}
