// The registered topics and their idle lifetime.

/// Registered topics with TTL bookkeeping. Pure: every call takes `now`.
///
/// Expiry is lazy (an expired topic is invisible at once) and reaping frees the memory later.
public struct TopicRegistry: Sendable {
    private struct Entry: Sendable {
        var meta: TopicMeta
        /// nil for topics that never expire (the worker's own `worker.status`).
        var expiresAt: MonotonicTime?
    }

    private var entries: [TopicName: Entry] = [:]

    public init() {}

    /// Registers `topic`, or refreshes its TTL and replaces its meta if it exists.
    /// - Parameter ttl: nil registers a topic that never expires.
    public mutating func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime) {
        entries[topic] = Entry(meta: meta, expiresAt: ttl.map { now.advanced(by: $0) })
    }

    /// Removes `topic`; true if it was registered and alive.
    @discardableResult
    public mutating func unregister(_ topic: TopicName, now: MonotonicTime) -> Bool {
        guard let entry = entries.removeValue(forKey: topic) else { return false }
        return Self.isAlive(entry, now: now)
    }

    /// The meta of `topic` if it is registered and has not expired.
    public func lookup(_ topic: TopicName, now: MonotonicTime) -> TopicMeta? {
        guard let entry = entries[topic], Self.isAlive(entry, now: now) else { return nil }
        return entry.meta
    }

    /// The live topics, sorted by their bytes (so status output is stable).
    public func liveTopics(now: MonotonicTime) -> [TopicName] {
        entries.compactMap { Self.isAlive($1, now: now) ? $0 : nil }.sorted()
    }

    /// The number of live topics. O(registered topics).
    public func liveCount(now: MonotonicTime) -> Int {
        entries.values.reduce(0) { $0 + (Self.isAlive($1, now: now) ? 1 : 0) }
    }

    /// Drops expired topics and returns them. O(registered topics); run every few seconds,
    /// not per request.
    public mutating func reap(now: MonotonicTime) -> [TopicName] {
        let expired = entries.compactMap { Self.isAlive($1, now: now) ? nil : $0 }
        for topic in expired { entries.removeValue(forKey: topic) }
        return expired
    }

    // A topic is alive up to and including its expiry instant.
    private static func isAlive(_ entry: Entry, now: MonotonicTime) -> Bool {
        guard let expiresAt = entry.expiresAt else { return true }
        return now <= expiresAt
    }
}
