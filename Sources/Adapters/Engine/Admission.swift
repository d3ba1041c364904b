// Whether a subscription may start: topic, origin, client address, draining. One rule for every transport.
public import Application
public import Domain
public import Logging

/// The admission rules every browser transport applies before it starts a subscription.
///
/// The order is the Wavelog protocol's: the topic query (400), the topic's registration (404),
/// then, after the transport's own handshake checks, the origin (403) and draining (503); then
/// the node's limits: `max_connections` (503) and the per-address limits (429). Every refusal
/// is counted by reason on the loop; the limits' refusals are logged through `RefusalLog`.
public struct Admission: Sendable {
    /// Settings of the rules.
    public struct Policy: Sendable {
        /// Empty: every origin is accepted.
        public var allowedOrigins: Set<String> = []
        /// Peers whose `X-Forwarded-For` / `X-Real-IP` name the client; any other peer is the client.
        public var trustedProxies: [AddressRange] = AddressRange.localAndPrivate

        public init() {}
    }

    /// A refusal, with the plain-text answer the transport gives before any upgrade.
    public typealias Refusal = PlainAnswer

    let broker: Broker
    let policy: Policy
    let limits: ClientLimits
    let refusals: RefusalLog
    let logger: Logger

    public init(broker: Broker, policy: Policy, limits: ClientLimits = ClientLimits(settings: .init()), refusals: RefusalLog? = nil, logger: Logger) {
        self.broker = broker
        self.policy = policy
        self.limits = limits
        self.refusals = refusals ?? RefusalLog(logger: logger)
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
        case .failure(let refusal):
            connection.loop.metrics.countRefusal("bad_request")
            return PlainAnswers.respond(refusal, keepAlive: keepAlive)
        case .success(let requested): topic = requested
        }
        if broker.resolveTopic.locally(topic) != nil { return route.answer(request, topic: topic, from: connection) }
        // In a cluster it may have been registered elsewhere a moment ago. The answer arrives on
        // another thread; only the connection's loop opens the box.
        let confined = LoopBound((route, request, connection))
        return .deferred { [broker] reply in
            broker.resolveTopic.throughCluster(topic) { meta in
                reply.resume {
                    let (route, request, connection) = confined.value
                    guard meta != nil else {
                        connection.loop.metrics.countRefusal("topic_not_registered")
                        return PlainAnswers.respond(.topicNotRegistered, keepAlive: keepAlive)
                    }
                    return route.answer(request, topic: topic, from: connection)
                }
            }
        }
    }

    /// The checks of a WebSocket handshake (RFC 6455 §4.2.1): 400 when the request is not one,
    /// 426 for a version other than 13; each refusal counted.
    public func webSocketKey(_ head: HTTPRequestHead, from connection: Connection) -> Result<String, Refusal> {
        switch WebSocketHandshake.validate(head) {
        case .success(let key): return .success(key)
        case .failure(.notWebSocket):
            connection.loop.metrics.countRefusal("bad_request")
            return .failure(.badRequest)
        case .failure(.unsupportedVersion):
            connection.loop.metrics.countRefusal("upgrade_required")
            return .failure(.upgradeRequired)
        }
    }

    /// The checks after the transport's handshake: the origin allowlist and draining.
    /// - Parameter originRequired: whether a request without `Origin` is refused when an allowlist
    ///   is set. Browsers always send it on a WebSocket handshake, but not on a same-origin
    ///   `EventSource` request.
    ///
    /// On success the connection counts against its client address's limits until it closes.
    public func admit(_ head: HTTPRequestHead, from connection: Connection, shard: SubscriberShard, originRequired: Bool) -> Result<String, Refusal> {
        let client = clientIP(head.headers, peer: connection.peerHost)
        if !policy.allowedOrigins.isEmpty {
            let origin = head.headers.origin
            let allowed = origin.map { policy.allowedOrigins.contains($0) } ?? !originRequired
            guard allowed else {
                refuse("origin", on: connection, metadata: ["ip": "\(client)", "origin": "\((origin ?? "").prefix(256))"])
                return .failure(.forbidden)
            }
        }
        if shard.draining {
            connection.loop.metrics.countRefusal("draining")
            return .failure(.shuttingDown)
        }
        if connection.isOverBudget {
            refuse("max_connections", on: connection, metadata: ["ip": "\(client)"])
            return .failure(.serverFull)
        }
        if !limits.isOff && connection.lease == nil {
            switch limits.admit(client, now: connection.loop.now) {
            case .success(let lease): connection.lease = lease
            case .failure(let refusal):
                refuse(refusal.rawValue, on: connection, metadata: ["ip": "\(client)"])
                return .failure(refusal == .tooManyConnections ? .tooManyConnections : .tooManyRequests)
            }
        }
        return .success(client)
    }

    private func refuse(_ reason: String, on connection: Connection, metadata: @autoclosure () -> Logger.Metadata) {
        connection.loop.metrics.countRefusal(reason)
        refusals.refused(reason, at: connection.loop.now, metadata: metadata())
    }

    /// Whether `origin` may read responses cross-origin (CORS): every origin without an allowlist.
    public func allowsCrossOrigin(_ origin: String) -> Bool {
        policy.allowedOrigins.isEmpty || policy.allowedOrigins.contains(origin)
    }

    /// The browser's address: from a trusted proxy, as it reports it; otherwise the TCP peer.
    public func clientIP(_ headers: HTTPHeaders, peer: String) -> String {
        // Only a request that names another client is worth parsing the peer's address for.
        guard headers.forwardedFor != nil || headers.realIP != nil, let address = AddressRange.bytes(of: peer) else { return peer }
        return policy.trustedProxies.contains(where: { $0.contains(bytes: address) }) ? Self.forwardedClientIP(headers, peer: peer) : peer
    }

    /// The address a proxy reports: the first X-Forwarded-For entry, else X-Real-IP, else the TCP
    /// peer. Bounded here; the log handler escapes it, as it escapes every value.
    static func forwardedClientIP(_ headers: HTTPHeaders, peer: String) -> String {
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
