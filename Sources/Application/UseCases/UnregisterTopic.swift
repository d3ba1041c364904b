// Use case: the backend unregisters a topic (POST /internal/unregister).
public import Domain
public import Logging

/// Unregisters a topic. Connected subscribers stay connected (docs/protocol.md "Internal API"); new ones
/// are refused.
public struct UnregisterTopic: Sendable {
    let topics: any TopicStore
    let clock: any Clock
    let logger: Logger

    public init(topics: any TopicStore, clock: any Clock, logger: Logger) {
        self.topics = topics
        self.clock = clock
        self.logger = logger
    }

    public func callAsFunction(_ topic: TopicName) {
        topics.unregister(topic, now: clock.monotonic)
        logger.debug("topic unregistered", metadata: ["topic": "\(topic)"])
    }
}
