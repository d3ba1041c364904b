// The node's part in the cluster's Pusher state: carrying out what the replicas decide.
internal import Application
internal import Domain

extension PusherNode: NodeMessageListener {
    /// Carries out `actions`, under the lock that produced them: messages reach the messenger,
    /// and announcements each loop's queue, in the order they were decided.
    func perform(_ actions: [ReplicatedChannels.Action], in state: inout State) {
        for action in actions {
            switch action {
            case .send(let message):
                messenger.send(message)
            case .announce(let change):
                state.version += 1
                hookMember(change, in: &state)
                announce(change, version: state.version, in: state)
            case .countChanged(let key, let total):
                hookCount(key, total: total, in: &state)
                countChanged(key, total: total, in: &state)
            case .terminate(let appID, let userID):
                guard let index = app(id: appID) else { continue }
                for address in state.apps[index].users[userID] ?? [] {
                    onLoop(of: address) { $0.end(code: PusherCode.unauthorized, "Connection terminated by the server") }
                }
            case .newcomer:
                // It gets the cache too, which no node owns and no snapshot carries.
                let entries = state.cache.live(nowMilliseconds: nowMilliseconds)
                if !entries.isEmpty { messenger.send(.caches(node: nodeID, entries)) }
            }
        }
    }

    /// One frame per change, shared by every loop; each loop tells its sockets in the channel
    /// whose roster does not already show the change.
    private func announce(_ change: ReplicatedChannels.MemberChange, version: UInt64, in state: State) {
        let key: ChannelKey
        let message: [UInt8]
        switch change {
        case .added(let changed, let userID, _) where changed.channel == Self.signedInChannel,
            .removed(let changed, let userID) where changed.channel == Self.signedInChannel:
            if case .added = change { tellWatchers(of: userID, app: changed.app, online: true, version: version, in: state) } else {
                tellWatchers(of: userID, app: changed.app, online: false, version: version, in: state)
            }
            return
        case .added(let changed, let userID, let info):
            key = changed
            message = PusherFrames.memberAdded(channel: key.channel, PresenceMember(userID: userID, userInfo: info.isEmpty ? nil : info))
        case .removed(let changed, let userID):
            key = changed
            message = PusherFrames.memberRemoved(channel: key.channel, userID: userID)
        }
        toEveryLoop(WebSocketFrameEncoder.text(message), channel: key, version: version)
    }

    /// `frame` to this node's sockets in the channel, on each loop's queue (never inline: this
    /// runs under the node's lock), except those whose answer already showed `version`.
    private func toEveryLoop(_ frame: EncodedFrame, channel key: ChannelKey, version: UInt64) {
        guard let app = app(id: key.app), let topic = topic(app: app, channel: key.channel) else { return }
        for route in routes.values {
            let confined = LoopBound(route)
            route.shard.loop.execute { _ in confined.value.announce(frame, on: topic, version: version) }
        }
    }

    /// `body` with the session at `address`, on its loop, if it is still there.
    private func onLoop(of address: PusherSocketAddress, _ body: @escaping @Sendable (PusherSession) -> Void) {
        guard let route = routes[address.loop] else { return }
        let socketID = address.socketID
        let confined = LoopBound(route)
        route.shard.loop.execute { _ in confined.value.sessions[socketID].map(body) }
    }

    /// `online`/`offline` to this node's sockets watching `userID`, except those whose
    /// sign-in answer already reflected it.
    private func tellWatchers(of userID: String, app appID: String, online: Bool, version: UInt64, in state: State) {
        guard let app = app(id: appID), apps[app].settings.enableWatchlist, let watchers = state.apps[app].watchers[userID] else { return }
        let frame = PusherFrames.watchlistEvent(online: online, userIDs: [userID])
        for address in watchers {
            onLoop(of: address) { session in
                if session.watchlistVersion < version { session.socket?.send(frame) }
            }
        }
    }

    // MARK: - subscription_count

    private func countChanged(_ key: ChannelKey, total: Int, in state: inout State) {
        guard let app = app(id: key.app), apps[app].settings.enableSubscriptionCount, PusherChannelKind(name: key.channel) != .presence else {
            return
        }
        if state.counts.changed(key, total: total, now: clock.monotonic) { sendCount(key, total: total) }
    }

    /// Counts held back by the pacer, sent once due; on the tick.
    private func sendPendingCounts(in state: inout State) {
        for key in state.counts.due(now: clock.monotonic) { sendCount(key, total: state.cluster.subscriptions(of: key)) }
    }

    /// To every socket of this node in the channel, the one just subscribed included.
    private func sendCount(_ key: ChannelKey, total: Int) {
        let data = JSONWriter.quoted(#"{"subscription_count":\#(total)}"#)
        let message = PusherFrames.event(name: "pusher_internal:subscription_count", channel: key.channel, data: Array(data.utf8))
        toEveryLoop(WebSocketFrameEncoder.text(message), channel: key, version: .max)
    }

    /// The engine's topic of `channel` in `app`: apps never share a channel.
    func topic(app: Int, channel: String) -> TopicName? {
        TopicName.namespaced(PusherTransport.namespace, "\(apps[app].id):\(channel)")
    }

    // MARK: - NodeMessageListener (on the messenger's loop)

    func received(_ message: ReplicaMessage) {
        if webhooks != nil { hookHeard(message) }
        switch message {
        case .cached(let node, let key, let event):
            guard node != nodeID else { return }
            let now = nowMilliseconds
            state.withLock { $0.cache.offer(event, for: key, nowMilliseconds: now) }
        case .caches(let node, let entries):
            guard node != nodeID else { return }
            let now = nowMilliseconds
            state.withLock { state in
                for (key, event) in entries { state.cache.offer(event, for: key, nowMilliseconds: now) }
            }
        default:
            let now = clock.monotonic
            state.withLock { state in perform(state.cluster.receive(message, now: now), in: &state) }
        }
    }

    func linkChanged(up: Bool) {
        let now = clock.monotonic
        state.withLock { state in
            if up {
                perform(state.cluster.linkCameUp(now: now), in: &state)
            } else {
                state.cluster.linkWentDown()
            }
            hookLink(up: up, in: &state)
        }
    }

    // MARK: - Time

    static let tickInterval: Duration = .seconds(1)

    /// Counts, requested snapshots, heartbeats and silent nodes, once a second on `loop`.
    func scheduleTick(on loop: EventLoop) {
        loop.schedule(after: Self.tickInterval) { [weak self] loop in
            guard let self else { return }
            let now = self.clock.monotonic
            let wall = self.nowMilliseconds
            self.state.withLock { state in
                self.perform(state.cluster.tick(now: now), in: &state)
                self.sendPendingCounts(in: &state)
                state.cache.prune(nowMilliseconds: wall)
                self.hookTick(in: &state)
            }
            self.scheduleTick(on: loop)
        }
    }

    /// The node is stopping: the others forget it now rather than after its silence.
    func depart() {
        state.withLock { state in
            perform(state.cluster.depart(), in: &state)
            hookDepart(in: &state)
        }
    }
}

extension PusherRoute {
    /// Writes a membership announcement to this loop's sockets in the channel, except those
    /// whose `subscription_succeeded` already showed it. O(subscribers of the channel here),
    /// one comparison each; the frame is shared.
    func announce(_ frame: EncodedFrame, on topic: TopicName, version: UInt64) {
        for subscriber in shard.index.subscribers(of: topic) {
            guard let channel = subscriber as? PusherChannelSubscriber, channel.rosterVersion < version else { continue }
            shard.send(frame, to: channel)
        }
    }
}
