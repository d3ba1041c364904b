// Use case: the backend publishes an event (POST /internal/publish, /internal/push).
public import Domain
public import Logging

/// Why a publish was refused.
public enum PublishError: Error, Sendable, Equatable {
    /// → 404 `topic not registered`.
    case topicNotRegistered
}

/// Publishes a payload to every subscriber of a registered topic, on every node.
public struct PublishEvent: Sendable {
    let topics: any TopicStore
    let bus: any ClusterBus
    let clock: any Clock
    let logger: Logger

    public init(topics: any TopicStore, bus: any ClusterBus, clock: any Clock, logger: Logger) {
        self.topics = topics
        self.bus = bus
        self.clock = clock
        self.logger = logger
    }

    /// Publishes `payload` on `topic` if the topic is registered.
    public func callAsFunction(topic: TopicName, payload: JSONPayload) throws(PublishError) {
        guard topics.lookup(topic, now: clock.monotonic) != nil else {
            logger.debug("publish refused", metadata: ["topic": "\(topic)", "reason": "topic_not_registered"])
            throw .topicNotRegistered
        }
        bus.publish(PublishedEvent(topic: topic, payload: payload))
    }
}
