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
    /// Registers like `register`, and calls `confirmed` (on any thread) once every node can see
    /// the topic: at once for a single node, after the shared store acknowledged it for a cluster.
    func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime, confirmed: @escaping @Sendable () -> Void)
    /// Looks `topic` up, asking the shared store when the local view does not know it (a topic
    /// registered elsewhere a moment ago, or before this node started). `answer` runs on any thread.
    func lookupThrough(_ topic: TopicName, now: MonotonicTime, answer: @escaping @Sendable (TopicMeta?) -> Void)
}

extension TopicStore {
    public func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime, confirmed: @escaping @Sendable () -> Void) {
        register(topic, meta: meta, ttl: ttl, now: now)
        confirmed()
    }

    public func lookupThrough(_ topic: TopicName, now: MonotonicTime, answer: @escaping @Sendable (TopicMeta?) -> Void) {
        answer(lookup(topic, now: now))
    }
}
