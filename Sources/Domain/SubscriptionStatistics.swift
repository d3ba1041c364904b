// Exact counters behind the status fields `active_topics`, `connected_sockets`, `connected_clients`.

/// Counts authenticated subscriptions by topic and by user, exactly.
///
/// docs/protocol.md "Status": `connected_clients` counts sockets with `user_id > 0` once per user and
/// each anonymous socket once.
public struct SubscriptionStatistics: Sendable, Equatable {
    private var socketsPerTopic: [TopicName: Int] = [:]
    private var socketsPerUser: [Int64: Int] = [:]
    private var anonymousSockets = 0

    /// Authenticated sockets.
    public private(set) var socketCount = 0

    public init() {}

    public mutating func recordSubscribed(topic: TopicName, userID: Int64) {
        socketCount += 1
        socketsPerTopic[topic, default: 0] += 1
        if userID > 0 { socketsPerUser[userID, default: 0] += 1 } else { anonymousSockets += 1 }
    }

    /// Undoes one `recordSubscribed` with the same arguments.
    public mutating func recordUnsubscribed(topic: TopicName, userID: Int64) {
        // One look-up of the topic's name, then changed through its index.
        guard let slot = socketsPerTopic.index(forKey: topic) else {
            assertionFailure("unsubscribed from a topic with no subscriptions")
            return
        }
        socketCount -= 1
        if socketsPerTopic.values[slot] > 1 { socketsPerTopic.values[slot] -= 1 } else { socketsPerTopic.remove(at: slot) }
        if userID > 0 {
            let userCount = socketsPerUser[userID, default: 1]
            socketsPerUser[userID] = userCount > 1 ? userCount - 1 : nil
        } else {
            anonymousSockets -= 1
        }
    }

    /// Topics with at least one subscriber.
    public var activeTopicCount: Int { socketsPerTopic.count }

    /// Distinct users plus anonymous sockets.
    public var connectedClients: Int { socketsPerUser.count + anonymousSockets }

    /// Active topics, sorted by their bytes.
    public var activeTopics: [TopicName] { socketsPerTopic.keys.sorted() }

    /// Subscribers of `topic`.
    public func subscriberCount(of topic: TopicName) -> Int { socketsPerTopic[topic] ?? 0 }
}
