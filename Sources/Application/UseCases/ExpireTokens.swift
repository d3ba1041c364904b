// Use case: tokens that expire while their socket is open end the subscription.
public import Domain

/// Finds the subscribers of one loop whose token has expired, and unsubscribes them.
/// The transport then sends `auth_expired` and closes 1008.
public struct ExpireTokens: Sendable {
    @usableFromInline let statistics: any SubscriptionStatisticsStore
    @usableFromInline let clock: any Clock

    public init(statistics: any SubscriptionStatisticsStore, clock: any Clock) {
        self.statistics = statistics
        self.clock = clock
    }

    /// The subscribers to close. O(expired × log n), so it can run every second.
    @inlinable
    public func callAsFunction<Subscriber: Hashable>(in index: inout SubscriptionIndex<Subscriber>) -> [Subscriber] {
        let expired = index.removeExpired(at: clock.unixTime)
        for (_, subscription) in expired {
            statistics.recordUnsubscribed(topic: subscription.topic, userID: subscription.userID)
        }
        return expired.map(\.0)
    }
}
