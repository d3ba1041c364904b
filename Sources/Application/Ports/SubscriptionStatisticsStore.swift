// Port: node-wide subscription counters, shared by every event loop.
public import Domain

/// Node-wide counts of authenticated subscriptions, updated on subscribe and disconnect
/// (never on the delivery path) and read by the status use case.
public protocol SubscriptionStatisticsStore: Sendable {
    func recordSubscribed(topic: TopicName, userID: Int64)
    func recordUnsubscribed(topic: TopicName, userID: Int64)
    /// A consistent copy of the counters.
    func snapshot() -> SubscriptionStatistics
}
