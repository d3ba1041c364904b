// The application surface on one screen: every use case a driving adapter may call.
public import Domain
public import Logging

/// Every use case, wired to the same ports. Driving adapters hold a `Broker` and nothing more concrete.
public struct Broker: Sendable {
    public let registerTopic: RegisterTopic
    public let unregisterTopic: UnregisterTopic
    public let publishEvent: PublishEvent
    public let authenticateSubscriber: AuthenticateSubscriber
    public let disconnect: Disconnect
    public let expireTokens: ExpireTokens
    public let reportStatus: ReportStatus
    public let reapExpiredTopics: ReapExpiredTopics
    public let resolveTopic: ResolveTopic
    public let broadcastEvent: BroadcastEvent
    private let topics: any TopicStore
    /// The clock every use case reads; adapters that check time-stamped requests read it too.
    public let clock: any Clock

    /// The ports a broker needs, and the settings its use cases read.
    public struct Ports: Sendable {
        public var topics: any TopicStore
        public var bus: any ClusterBus
        public var authenticator: any MessageAuthenticator
        public var claimsDecoder: any ClaimsDecoder
        public var statistics: any SubscriptionStatisticsStore
        public var clock: any Clock
        /// The shared roster of a cluster; nil for a node alone.
        public var roster: (any ClusterRoster)?

        public init(
            topics: any TopicStore, bus: any ClusterBus, authenticator: any MessageAuthenticator,
            claimsDecoder: any ClaimsDecoder, statistics: any SubscriptionStatisticsStore, clock: any Clock,
            roster: (any ClusterRoster)? = nil
        ) {
            self.roster = roster
            self.topics = topics
            self.bus = bus
            self.authenticator = authenticator
            self.claimsDecoder = claimsDecoder
            self.statistics = statistics
            self.clock = clock
        }
    }

    /// - Parameter identity: this node in the roster; nil gives a fixed one (tests).
    public init(ports: Ports, topicTTL: Duration, version: String, identity: NodeIdentity? = nil, logger: Logger) {
        let startedAt = ports.clock.monotonic
        let identity = identity ?? NodeIdentity(id: "0000000000000000", name: "0000000000000000", version: version, startedAt: ports.clock.wallTime)
        let describeNode = DescribeNode(identity: identity, statistics: ports.statistics, clock: ports.clock)
        registerTopic = RegisterTopic(topics: ports.topics, clock: ports.clock, ttl: topicTTL, logger: logger)
        unregisterTopic = UnregisterTopic(topics: ports.topics, clock: ports.clock, logger: logger)
        publishEvent = PublishEvent(topics: ports.topics, bus: ports.bus, clock: ports.clock, logger: logger)
        authenticateSubscriber = AuthenticateSubscriber(
            topics: ports.topics, authenticator: ports.authenticator, claimsDecoder: ports.claimsDecoder,
            statistics: ports.statistics, clock: ports.clock
        )
        disconnect = Disconnect(statistics: ports.statistics)
        expireTokens = ExpireTokens(statistics: ports.statistics, clock: ports.clock)
        reportStatus = ReportStatus(
            topics: ports.topics, statistics: ports.statistics, bus: ports.bus, clock: ports.clock,
            startedAt: startedAt, version: version, roster: ports.roster, describeNode: describeNode
        )
        reapExpiredTopics = ReapExpiredTopics(topics: ports.topics, clock: ports.clock, logger: logger)
        resolveTopic = ResolveTopic(topics: ports.topics, clock: ports.clock)
        broadcastEvent = BroadcastEvent(bus: ports.bus)
        topics = ports.topics
        clock = ports.clock
    }

    /// Registers the worker's own `worker.status` topic, which never expires
    /// (docs/protocol.md "Browser endpoint (WebSocket)", rule 4).
    public func registerWorkerTopics() {
        topics.register(.workerStatus, meta: .secureDefault, ttl: nil, now: clock.monotonic)
    }
}
