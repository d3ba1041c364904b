// Which local connections receive which topic; one index per event loop.

/// Topic → subscribers for one shard (one event loop), plus the order in which tokens expire.
///
/// Confined to its loop, so it needs no lock. Subscribe and unsubscribe are O(1) amortised;
/// `subscribers(of:)` hands out the stored array without copying it.
///
/// `@inlinable` so the transport's module specialises it for its own subscriber type: called
/// generically across the module boundary, every dictionary operation went through runtime
/// metadata lookups, 10,000 instructions per subscribe (callgrind, bench/instructions.py).
public struct SubscriptionIndex<Subscriber: Hashable> {
    /// What the index knows of one subscriber.
    public struct Subscription: Equatable {
        public let topic: TopicName
        public let userID: Int64
        public let expires: UnixTime
        // Position in its topic's array, for O(1) swap-removal.
        @usableFromInline var position: Int

        @usableFromInline
        init(topic: TopicName, userID: Int64, expires: UnixTime, position: Int) {
            self.topic = topic
            self.userID = userID
            self.expires = expires
            self.position = position
        }
    }

    @usableFromInline var subscribersByTopic: [TopicName: [Subscriber]] = [:]
    @usableFromInline var subscriptions: [Subscriber: Subscription] = [:]
    @usableFromInline var expiries = ExpiryHeap<Subscriber>()
    /// Heap entries of subscribers that left before their expiry. Removal from the heap is
    /// lazy, and each entry holds its subscriber, so the heap is rebuilt when they dominate:
    /// connection churn must not keep closed connections alive until their tokens expire.
    @usableFromInline var staleExpiries = 0

    @inlinable public init() {}

    /// The subscribers of `topic`, in subscription order except after removals.
    @inlinable
    public func subscribers(of topic: TopicName) -> [Subscriber] {
        subscribersByTopic[topic] ?? []
    }

    /// The subscription of `subscriber`, if it has one.
    @inlinable
    public func subscription(of subscriber: Subscriber) -> Subscription? {
        subscriptions[subscriber]
    }

    /// Subscribed connections in this shard.
    @inlinable
    public var count: Int { subscriptions.count }

    /// Adds `subscriber`; false (and nothing changes) if it is already subscribed.
    @inlinable @discardableResult
    public mutating func subscribe(_ subscriber: Subscriber, to topic: TopicName, userID: Int64, expires: UnixTime) -> Bool {
        guard subscriptions[subscriber] == nil else { return false }
        // The topic's array is changed in place: its name is hashed once per subscribe.
        let position = Self.append(subscriber, to: &subscribersByTopic[topic, default: []])
        subscriptions[subscriber] = Subscription(topic: topic, userID: userID, expires: expires, position: position)
        // What never expires needs no place in the heap (nothing would ever pop it).
        if expires != .never { expiries.insert(subscriber, at: expires) }
        return true
    }

    /// Moves the token expiry of a subscribed `subscriber` to `expires`; false when it is not
    /// subscribed. The old heap entry goes stale (the expiry check skips entries that no longer
    /// match), so a refresh costs one insertion and leaves the topic's array alone.
    @inlinable @discardableResult
    public mutating func renew(_ subscriber: Subscriber, expires: UnixTime) -> Bool {
        guard let current = subscriptions[subscriber] else { return false }
        guard current.expires != expires else { return true }
        subscriptions[subscriber] = Subscription(topic: current.topic, userID: current.userID, expires: expires, position: current.position)
        if current.expires != .never { staleExpiries += 1 }
        if expires != .never { expiries.insert(subscriber, at: expires) }
        return true
    }

    /// Removes `subscriber` and returns what it was subscribed to.
    @inlinable @discardableResult
    public mutating func unsubscribe(_ subscriber: Subscriber) -> Subscription? {
        guard let removed = subscriptions.removeValue(forKey: subscriber) else { return nil }
        // Found once and changed in place through its index: the topic's name is hashed once
        // per leave, and the array is not copied.
        if let slot = subscribersByTopic.index(forKey: removed.topic) {
            let last = subscribersByTopic.values[slot].removeLast()
            if last != subscriber {
                subscribersByTopic.values[slot][removed.position] = last
                subscriptions[last]?.position = removed.position
            }
            if subscribersByTopic.values[slot].isEmpty { subscribersByTopic.remove(at: slot) }
        }
        if removed.expires != .never {
            staleExpiries += 1
            if staleExpiries > 1024 && staleExpiries * 2 > expiries.count { rebuildExpiries() }
        }
        return removed
    }

    /// Appends `subscriber` and returns its position.
    @inlinable
    static func append(_ subscriber: Subscriber, to members: inout [Subscriber]) -> Int {
        members.append(subscriber)
        return members.count - 1
    }

    /// Heap entries held now, live and stale (for tests: it must stay bounded under churn).
    @inlinable public var heldExpiries: Int { expiries.count }

    @inlinable
    mutating func rebuildExpiries() {
        var fresh = ExpiryHeap<Subscriber>()
        for (subscriber, subscription) in subscriptions where subscription.expires != .never {
            fresh.insert(subscriber, at: subscription.expires)
        }
        expiries = fresh
        staleExpiries = 0
    }

    /// Removes and returns the subscribers whose tokens have expired at `now` (`now > expires`).
    /// O(expired × log n); heap entries of subscribers that already left are skipped.
    @inlinable
    public mutating func removeExpired(at now: UnixTime) -> [(Subscriber, Subscription)] {
        var expired: [(Subscriber, Subscription)] = []
        while let (subscriber, expires) = expiries.peek(), expires < now {
            expiries.pop()
            // A subscriber that left (or left and came back with another token) has a stale entry.
            guard let current = subscriptions[subscriber], current.expires == expires else {
                staleExpiries = max(0, staleExpiries - 1)
                continue
            }
            // Its entry is popped, not stale: `unsubscribe` counts it as stale, so take that back.
            if let removed = unsubscribe(subscriber) {
                staleExpiries = max(0, staleExpiries - 1)
                expired.append((subscriber, removed))
            }
        }
        return expired
    }

    /// The earliest token expiry in this shard, to schedule the next check.
    @inlinable
    public var nextExpiry: UnixTime? {
        expiries.peek()?.1
    }
}
