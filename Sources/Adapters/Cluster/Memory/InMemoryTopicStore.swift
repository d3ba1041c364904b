// Adapter: the single-node topic store, and the reference the Redis store is held to.
public import Application
public import Domain
internal import Synchronization

/// Topics in process memory, shared by every loop behind one mutex.
///
/// The lock is taken on register/unregister/lookup (a handshake, an API call), never per delivery.
public final class InMemoryTopicStore: TopicStore {
    private let registry = Locked(TopicRegistry())

    public init() {}

    public func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime) {
        registry.withLock { $0.register(topic, meta: meta, ttl: ttl, now: now) }
    }

    public func unregister(_ topic: TopicName, now: MonotonicTime) {
        registry.withLock { _ = $0.unregister(topic, now: now) }
    }

    public func lookup(_ topic: TopicName, now: MonotonicTime) -> TopicMeta? {
        registry.withLock { $0.lookup(topic, now: now) }
    }

    public func liveTopics(now: MonotonicTime) -> [TopicName] {
        registry.withLock { $0.liveTopics(now: now) }
    }

    public func reapExpired(now: MonotonicTime) -> Int {
        registry.withLock { $0.reap(now: now).count }
    }
}
