// Which webhook events the cluster's channel changes make, and when: the vacate and leave delay.

/// Turns the cluster's transitions, as the replicas see them, into webhook events. Occupied and
/// member added go at once; vacated and member removed wait `delay` and go only if the channel
/// is still empty, the user still gone, when it ends: a page reload within it sends nothing.
/// Every node runs one over the same transitions; `WebhookElection` picks the one that sends.
///
/// A value: each change returns the events due now, `tick` those whose delay has run out.
public struct WebhookTracker: Sendable {
    public let delay: Duration
    private struct Member: Hashable, Comparable {
        let key: ChannelKey
        let userID: String
        static func < (lhs: Member, rhs: Member) -> Bool { (lhs.key, lhs.userID) < (rhs.key, rhs.userID) }
    }

    /// Channels the backend was told are occupied and not yet told are vacated.
    private var occupied: Set<ChannelKey> = []
    /// What says a channel is occupied: its subscriptions on every node (which travel once a
    /// second) and its presence members (which travel at once). Either will do: a member who
    /// moves to another node within a second shows in the members before the counts.
    private var subscriptions: [ChannelKey: Int] = [:]
    private var members: [ChannelKey: Int] = [:]
    /// Empty channels and departed members, with the end of their delay.
    private var vacating: [ChannelKey: MonotonicTime] = [:]
    private var removing: [Member: MonotonicTime] = [:]
    /// `subscription_count` is paced as the sockets' count is.
    private var counts = CountPacer<ChannelKey>()

    public init(delay: Duration = .seconds(3)) {
        self.delay = delay
    }

    /// The channel's subscriptions on every node are now `total`. `counted`: the app wants
    /// `subscription_count` for this channel.
    public mutating func countChanged(_ key: ChannelKey, total: Int, counted: Bool, now: MonotonicTime) -> [ScopedWebhookEvent] {
        subscriptions[key] = total > 0 ? total : nil
        var events = occupancy(of: key, now: now)
        if counted, counts.changed(key, total: total, now: now) {
            events.append(ScopedWebhookEvent(scope: key.app, event: .subscriptionCount(channel: key.channel, count: total)))
        }
        return events
    }

    /// The user's first socket anywhere joined the presence channel: the channel is occupied
    /// (told first), and the user added unless they left within the delay.
    public mutating func memberAdded(_ key: ChannelKey, userID: String, now: MonotonicTime) -> [ScopedWebhookEvent] {
        members[key, default: 0] += 1
        var events = occupancy(of: key, now: now)
        if removing.removeValue(forKey: Member(key: key, userID: userID)) == nil {
            events.append(ScopedWebhookEvent(scope: key.app, event: .memberAdded(channel: key.channel, userID: userID)))
        }
        return events
    }

    /// The user's last socket anywhere left the presence channel.
    public mutating func memberRemoved(_ key: ChannelKey, userID: String, now: MonotonicTime) {
        let left = (members[key] ?? 0) - 1
        members[key] = left > 0 ? left : nil
        removing[Member(key: key, userID: userID)] = now.advanced(by: delay)
        _ = occupancy(of: key, now: now)
    }

    /// Occupied at once when it becomes so; vacated after the delay, unless occupied again.
    private mutating func occupancy(of key: ChannelKey, now: MonotonicTime) -> [ScopedWebhookEvent] {
        if subscriptions[key] != nil || members[key] != nil {
            guard vacating.removeValue(forKey: key) == nil, occupied.insert(key).inserted else { return [] }
            return [Self.event(key, occupied: true)]
        }
        if occupied.contains(key) && vacating[key] == nil { vacating[key] = now.advanced(by: delay) }
        return []
    }

    /// The removals and vacates whose delay has ended, then counts held back by the pacing.
    public mutating func tick(now: MonotonicTime) -> [ScopedWebhookEvent] {
        var events: [ScopedWebhookEvent] = []
        for (member, deadline) in removing.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) where deadline <= now {
            removing[member] = nil
            events.append(ScopedWebhookEvent(scope: member.key.app, event: .memberRemoved(channel: member.key.channel, userID: member.userID)))
        }
        for (key, deadline) in vacating.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) where deadline <= now {
            vacating[key] = nil
            occupied.remove(key)
            events.append(Self.event(key, occupied: false))
        }
        for key in counts.due(now: now) {
            events.append(ScopedWebhookEvent(scope: key.app, event: .subscriptionCount(channel: key.channel, count: subscriptions[key] ?? 0)))
        }
        return events
    }

    /// Every removal and vacate whose delay runs, as if it had ended: for a node that stops
    /// with nobody else to tell them.
    public mutating func flush() -> [ScopedWebhookEvent] {
        let events = tick(now: MonotonicTime(nanoseconds: .max))
        return events.filter { if case .subscriptionCount = $0.event { false } else { true } }
    }

    /// Channels and members whose delay runs.
    public var pendingCount: Int { vacating.count + removing.count }

    private static func event(_ key: ChannelKey, occupied: Bool) -> ScopedWebhookEvent {
        let event: WebhookEvent =
            if key.app == WebhookScope.topics {
                occupied ? .topicOccupied(topic: key.channel) : .topicVacated(topic: key.channel)
            } else {
                occupied ? .channelOccupied(channel: key.channel) : .channelVacated(channel: key.channel)
            }
        return ScopedWebhookEvent(scope: key.app, event: event)
    }
}
