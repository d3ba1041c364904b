// When a channel's subscription count is told to its subscribers: at once while the channel is
// small, at most once an interval once it is large.

/// Paces `subscription_count` per channel. A small channel hears every change at once; above
/// `quietAbove` subscribers a channel hears at most one count per `interval`, the latest, so a
/// connect storm on a busy channel is not a storm of counts. A value; the caller sends.
public struct CountPacer<Key: Hashable & Comparable & Sendable>: Sendable {
    public let quietAbove: Int
    public let interval: Duration
    private var sentAt: [Key: MonotonicTime] = [:]
    private var pending: Set<Key> = []

    public init(quietAbove: Int = 100, interval: Duration = .seconds(5)) {
        self.quietAbove = quietAbove
        self.interval = interval
    }

    /// The count of `key` is now `total`: true when it is to be sent now.
    public mutating func changed(_ key: Key, total: Int, now: MonotonicTime) -> Bool {
        guard total > 0 else {
            // Nobody left to tell; a channel that fills again starts afresh.
            sentAt[key] = nil
            pending.remove(key)
            return false
        }
        if total > quietAbove, let sent = sentAt[key], now.duration(since: sent) < interval {
            pending.insert(key)
            return false
        }
        sentAt[key] = now
        pending.remove(key)
        return true
    }

    /// The channels whose held-back count is due, sorted; each is then counted as sent now.
    public mutating func due(now: MonotonicTime) -> [Key] {
        guard !pending.isEmpty else { return [] }
        let ready = pending.filter { now.duration(since: sentAt[$0] ?? now) >= interval }.sorted()
        for key in ready {
            pending.remove(key)
            sentAt[key] = now
        }
        return ready
    }

    /// Channels whose count has been sent and not yet dropped to zero.
    public var trackedCount: Int { sentAt.count }
}
