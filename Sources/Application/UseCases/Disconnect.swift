// Use case: a subscriber's connection ended, for whatever reason.
public import Domain

/// Removes a subscriber from its loop's index and from the node-wide statistics.
public struct Disconnect: Sendable {
    @usableFromInline let statistics: any SubscriptionStatisticsStore

    public init(statistics: any SubscriptionStatisticsStore) {
        self.statistics = statistics
    }

    /// Returns the subscription that ended, or nil if `subscriber` never authenticated.
    @discardableResult
    @inlinable
    public func callAsFunction<Subscriber: Hashable>(
        _ subscriber: Subscriber, from index: inout SubscriptionIndex<Subscriber>
    ) -> SubscriptionIndex<Subscriber>.Subscription? {
        guard let ended = index.unsubscribe(subscriber) else { return nil }
        statistics.recordUnsubscribed(topic: ended.topic, userID: ended.userID)
        return ended
    }
}
