// Use case: the backend registers a topic (POST /internal/register).
public import Domain
public import Logging

/// Registers a topic, or refreshes its TTL and replaces its meta.
public struct RegisterTopic: Sendable {
    let topics: any TopicStore
    let clock: any Clock
    /// The idle lifetime of a registered topic (`topic_ttl`).
    let ttl: Duration
    let logger: Logger

    public init(topics: any TopicStore, clock: any Clock, ttl: Duration, logger: Logger) {
        self.topics = topics
        self.clock = clock
        self.ttl = ttl
        self.logger = logger
    }

    public func callAsFunction(_ topic: TopicName, meta: TopicMeta) {
        callAsFunction(topic, meta: meta) {}
    }

    /// Registers and calls `confirmed` once every node can see the topic (see `TopicStore`).
    public func callAsFunction(_ topic: TopicName, meta: TopicMeta, confirmed: @escaping @Sendable () -> Void) {
        topics.register(topic, meta: meta, ttl: ttl, now: clock.monotonic, confirmed: confirmed)
        logger.debug("topic registered", metadata: ["topic": "\(topic)", "require_token": "\(meta.requireToken)"])
    }
}
