// Port: where registered topics live (memory on one node, Redis in a cluster).
public import Domain

/// The registry of topics. Lookups are on the connection path and must answer from memory.
public protocol TopicStore: Sendable {
    /// Registers `topic` or refreshes it; nil `ttl` means it never expires.
    func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime)
    /// Removes `topic`; removing an unknown topic is not an error.
    func unregister(_ topic: TopicName, now: MonotonicTime)
    /// The meta of a live topic, or nil.
    func lookup(_ topic: TopicName, now: MonotonicTime) -> TopicMeta?
    /// Live topics, sorted.
    func liveTopics(now: MonotonicTime) -> [TopicName]
    /// Frees expired topics; returns how many.
    func reapExpired(now: MonotonicTime) -> Int
}
