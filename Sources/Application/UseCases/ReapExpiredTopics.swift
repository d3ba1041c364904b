// Use case: forget topics whose TTL passed without a re-register.
public import Logging

/// Frees expired topics. Lookups already ignore them; this returns their memory.
public struct ReapExpiredTopics: Sendable {
    let topics: any TopicStore
    let clock: any Clock
    let logger: Logger

    public init(topics: any TopicStore, clock: any Clock, logger: Logger) {
        self.topics = topics
        self.clock = clock
        self.logger = logger
    }

    @discardableResult
    public func callAsFunction() -> Int {
        let reaped = topics.reapExpired(now: clock.monotonic)
        if reaped > 0 { logger.debug("topics expired", metadata: ["count": "\(reaped)"]) }
        return reaped
    }
}
