// Adapter: node-wide subscription counters behind one mutex.
public import Application
public import Domain
internal import Synchronization

/// Subscription counters shared by every loop. Touched on subscribe and disconnect only.
public final class InMemorySubscriptionStatistics: SubscriptionStatisticsStore {
    private let counters = Locked(SubscriptionStatistics())

    public init() {}

    public func recordSubscribed(topic: TopicName, userID: Int64) {
        counters.withLock { $0.recordSubscribed(topic: topic, userID: userID) }
    }

    public func recordUnsubscribed(topic: TopicName, userID: Int64) {
        counters.withLock { $0.recordUnsubscribed(topic: topic, userID: userID) }
    }

    public func snapshot() -> SubscriptionStatistics {
        counters.withLock { $0 }
    }
}
