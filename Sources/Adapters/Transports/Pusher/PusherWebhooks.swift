// The node's part in the cluster's webhooks: the events its replicas see, and who sends them.
internal import Application
internal import Domain

/// What the node keeps for webhooks, under its lock (docs/adr/0019).
struct WebhookHooks {
    var tracker: WebhookTracker
    var election: WebhookElection
    /// Cache channels whose `cache_miss` went lately: one per burst of subscriptions.
    var cacheMisses: [ChannelKey: MonotonicTime] = [:]
}

extension PusherNode {
    /// A cache channel's `cache_miss` webhook goes at most once per this, per node.
    static let cacheMissBurst: Duration = .seconds(5)

    /// Whether `key` is a channel whose app has an endpoint (the sign-in pseudo-channel never is).
    private func hooked(_ key: ChannelKey) -> Bool {
        key.channel != Self.signedInChannel && webhooks?.wants(key.app) == true
    }

    func hookMember(_ change: ReplicatedChannels.MemberChange, in state: inout State) {
        guard state.hooks != nil else { return }
        let now = clock.monotonic
        switch change {
        case .added(let key, let userID, _) where hooked(key):
            offer(state.hooks!.tracker.memberAdded(key, userID: userID, now: now), now: now, in: &state)
        case .removed(let key, let userID) where hooked(key):
            state.hooks!.tracker.memberRemoved(key, userID: userID, now: now)
        default:
            break
        }
    }

    func hookCount(_ key: ChannelKey, total: Int, in state: inout State) {
        guard state.hooks != nil, hooked(key) else { return }
        // Wavelog topics (no app) have no subscription_count.
        let counted = app(id: key.app).map { apps[$0].settings.enableSubscriptionCount } == true
            && PusherChannelKind(name: key.channel) != .presence && webhooks!.wants(key.app, "subscription_count")
        let now = clock.monotonic
        offer(state.hooks!.tracker.countChanged(key, total: total, counted: counted, now: now), now: now, in: &state)
    }

    /// Events that came due: sent by this node if it is the sender, held otherwise.
    private func offer(_ events: [ScopedWebhookEvent], now: MonotonicTime, in state: inout State) {
        for event in events {
            for ready in state.hooks!.election.offer(event, now: now) { webhooks!.emit(ready) }
        }
    }

    func hookTick(in state: inout State) {
        guard state.hooks != nil else { return }
        let now = clock.monotonic
        offer(state.hooks!.tracker.tick(now: now), now: now, in: &state)
        for ready in state.hooks!.election.tick(now: now) { webhooks!.emit(ready) }
        if let since = state.hooks!.election.seniorityDue(now: now) { messenger.send(.seniority(node: nodeID, linkedSince: since)) }
        state.hooks!.cacheMisses = state.hooks!.cacheMisses.filter { now.duration(since: $0.value) < Self.cacheMissBurst }
    }

    func hookLink(up: Bool, in state: inout State) {
        guard state.hooks != nil else { return }
        if up {
            state.hooks!.election.linkCameUp(now: clock.monotonic, wallMilliseconds: nowMilliseconds)
        } else {
            state.hooks!.election.linkWentDown(now: clock.monotonic)
        }
    }

    /// The node is stopping, its sockets closed. With other nodes, they send from now on, this
    /// node's last changes included (they derive them from its leaves and departure). Alone, it
    /// tells what its delays would have told, now: nobody else will.
    func hookDepart(in state: inout State) {
        guard state.hooks != nil else { return }
        if state.cluster.remoteNodes.isEmpty {
            let now = clock.monotonic
            offer(state.hooks!.tracker.flush(), now: now, in: &state)
        }
        state.hooks!.election.linkWentDown(now: clock.monotonic)
    }

    /// Every message tells the election the sender is alive; seniority and departure more.
    func hookHeard(_ message: ReplicaMessage) {
        let now = clock.monotonic
        state.withLock { state in
            guard state.hooks != nil else { return }
            switch message {
            case .seniority(let node, let since):
                state.hooks!.election.acknowledged(node, linkedSince: since, now: now)
            case .departed(let node):
                state.hooks!.election.departed(node, now: now)
            case .snapshotRequest(let node, nil):
                state.hooks!.election.newcomer(node, now: now)
            default:
                state.hooks!.election.heard(message.node, now: now)
            }
        }
    }

    /// The node that sends the cluster's webhook events as this node sees it (nil while it
    /// cannot tell), the events this node holds for it, and the delays running here.
    func webhookFigures() -> (sender: String?, held: Int, pending: Int, expired: Int)? {
        let now = clock.monotonic
        return state.withLock { state in
            state.hooks.map { ($0.election.sender(now: now), $0.election.heldCount, $0.tracker.pendingCount, $0.election.expiredCount) }
        }
    }

    // MARK: - Events of one socket, sent by its node

    /// A client event, told by the node that took it.
    func hookClientEvent(app: Int, channel: String, event: String, data: [UInt8], socketID: String, userID: String?) {
        guard let webhooks, webhooks.wants(apps[app].id, "client_event") else { return }
        let text = WebhookText.clientData(data)
        webhooks.emit(ScopedWebhookEvent(
            scope: apps[app].id, event: .clientEvent(channel: channel, event: event, data: text, socketID: socketID, userID: userID)))
    }

    /// A subscription to an empty cache channel, told once per burst by the node that took it.
    func hookCacheMiss(app: Int, channel: String) {
        guard let webhooks, webhooks.wants(apps[app].id, "cache_miss") else { return }
        let key = key(app: app, channel: channel)
        let now = clock.monotonic
        let first = state.withLock { state -> Bool in
            guard state.hooks?.cacheMisses[key] == nil else { return false }
            state.hooks?.cacheMisses[key] = now
            return true
        }
        if first { webhooks.emit(ScopedWebhookEvent(scope: key.app, event: .cacheMiss(channel: channel))) }
    }
}

enum WebhookText {
    /// A client event's `data` as the webhook's string: a JSON string's contents, or the JSON
    /// text of any other value (Pusher sends data as a string).
    static func clientData(_ raw: [UInt8]) -> String {
        guard raw.first == UInt8(ascii: "\"") else { return String(decoding: raw, as: UTF8.self) }
        let wrapped = Array(#"{"d":"#.utf8) + raw + [UInt8(ascii: "}")]
        return wrapped.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer, maxDepth: 2), let field = object["d"], let text = object.string(field) else {
                return String(decoding: raw, as: UTF8.self)
            }
            return text
        }
    }
}

// MARK: - Wavelog topics

/// Wavelog topics ride the same replicas as a pseudo-app no Pusher app id can be, so their
/// occupancy is the cluster's and their webhooks go once, from the same sender.
extension PusherNode: TopicOccupancy {
    func topicOccupied(_ topic: TopicName) { topicChanged(topic, by: 1) }
    func topicVacated(_ topic: TopicName) { topicChanged(topic, by: -1) }

    /// Counts loops with a subscriber, not subscribers: occupancy is all the webhooks ask.
    private func topicChanged(_ topic: TopicName, by delta: Int) {
        let key = ChannelKey(app: WebhookScope.topics, channel: topic.value)
        state.withLock { state in perform(state.cluster.subscriptionsChanged(key, by: delta), in: &state) }
    }
}
