// The cluster's channels as one node sees them: its own members and counts, and a replica of
// every other node's, kept in step by numbered changes, snapshots and heartbeats.

/// Each node holds what its own sockets hold and a replica of what every other node told it.
/// A user is a member of a presence channel while any node holds them, so the node announces
/// `added` when the first node anywhere takes the user in and `removed` when the last lets go,
/// to its own sockets only: every socket hears each transition once, from its own node, and no
/// two nodes ever announce to the same socket. Nothing here waits for another node; a query or
/// a subscribe is answered from what the node has heard.
///
/// A value: events (local changes, messages, ticks, the link) return actions for the adapter to
/// carry out (announce to local sockets, send to the other nodes, close a user's sockets).
public struct ReplicatedChannels: Sendable {
    /// How often a node says it is alive, with the number of changes it has made.
    public static let heartbeatInterval: Duration = .seconds(5)
    /// A node not heard for this long is gone, and its members with it (three heartbeats).
    public static let silenceLimit: Duration = .seconds(15)

    public enum MemberChange: Equatable, Sendable {
        case added(ChannelKey, userID: String, info: [UInt8])
        case removed(ChannelKey, userID: String)
    }

    public enum Action: Equatable, Sendable {
        /// Tell this node's sockets in the channel.
        case announce(MemberChange)
        /// Send to every other node.
        case send(ReplicaMessage)
        /// Close this node's sockets of the user.
        case terminate(app: String, userID: String)
        /// The channel's subscriptions on every node together are now `total`.
        case countChanged(ChannelKey, total: Int)
        /// A node came up and asked everyone: hand it what is kept outside the replicas.
        case newcomer(String)
    }

    /// What this node knows of another.
    private struct Remote {
        var channels = NodeChannels()
        var sequence: UInt64 = 0
        var heardAt: MonotonicTime
        /// False from a gap until a snapshot arrives: changes are ignored, the snapshot has them.
        var synced = false
    }

    public let localNode: String
    /// The number of changes this node has made to what it holds.
    public private(set) var sequence: UInt64 = 0
    public private(set) var local = NodeChannels()
    private var remotes: [String: Remote] = [:]
    /// Per channel and user, the nodes that hold the user (this one included).
    private var holders: [ChannelKey: [String: Set<String>]] = [:]
    /// Subscriptions per channel on every node together.
    private var totals: [ChannelKey: Int] = [:]
    /// Channels whose count here changed since the last `counts` message.
    private var changedCounts: Set<ChannelKey> = []
    private var linkUp = false
    /// Set by `depart`: the others have forgotten this node, so it says nothing more.
    private var departed = false
    private var snapshotDue = false
    private var lastHeartbeat: MonotonicTime?

    public init(localNode: String) {
        self.localNode = localNode
    }

    // MARK: - Queries

    /// The channel's members on every node, sorted by user id, with the `user_info` of the
    /// first holding node by id (every node picks the same one).
    public func members(of key: ChannelKey) -> [(userID: String, info: [UInt8])] {
        guard let users = holders[key] else { return [] }
        return users.keys.sorted().map { user in (user, info(of: user, in: key, heldBy: users[user]!)) }
    }

    public func memberCount(of key: ChannelKey) -> Int { holders[key]?.count ?? 0 }

    public func isMember(_ userID: String, of key: ChannelKey) -> Bool { holders[key]?[userID] != nil }

    /// Subscriptions to the channel on every node.
    public func subscriptions(of key: ChannelKey) -> Int { totals[key] ?? 0 }

    /// The app's occupied channels (a subscription or a member somewhere), sorted by name.
    public func occupiedChannels(app: String) -> [String] {
        var names = Set<String>()
        for key in totals.keys where key.app == app { names.insert(key.channel) }
        for key in holders.keys where key.app == app { names.insert(key.channel) }
        return names.sorted()
    }

    /// Nodes this one holds a replica of, itself excluded.
    public var remoteNodes: [String] { remotes.keys.sorted() }

    private func info(of user: String, in key: ChannelKey, heldBy nodes: Set<String>) -> [UInt8] {
        guard let first = nodes.min() else { return [] }
        let channels = first == localNode ? local : remotes[first]?.channels
        return channels?.members[key]?[user] ?? []
    }

    // MARK: - This node's changes

    /// This node's first socket of `userID` joined the presence channel.
    public mutating func join(_ key: ChannelKey, userID: String, info: [UInt8]) -> [Action] {
        guard local.members[key]?[userID] == nil else { return [] }
        local.members[key, default: [:]][userID] = info
        sequence += 1
        var actions: [Action] = [.send(.joined(node: localNode, sequence: sequence, key: key, userID: userID, info: info))]
        if addHolder(localNode, of: userID, in: key) { actions.append(.announce(.added(key, userID: userID, info: info))) }
        return quietIfDeparted(actions)
    }

    /// This node's last socket of `userID` left the presence channel.
    public mutating func leave(_ key: ChannelKey, userID: String) -> [Action] {
        guard local.members[key]?[userID] != nil else { return [] }
        local.members[key]![userID] = nil
        if local.members[key]!.isEmpty { local.members[key] = nil }
        sequence += 1
        var actions: [Action] = [.send(.left(node: localNode, sequence: sequence, key: key, userID: userID))]
        if removeHolder(localNode, of: userID, in: key) { actions.append(.announce(.removed(key, userID: userID))) }
        return quietIfDeparted(actions)
    }

    /// This node's subscriptions to the channel changed by `delta`. The other nodes hear of it
    /// on the next tick, one message for every channel that changed meanwhile.
    public mutating func subscriptionsChanged(_ key: ChannelKey, by delta: Int) -> [Action] {
        // (No message: counts go out on the tick, which stops at departure.)
        let count = (local.subscriptions[key] ?? 0) + delta
        local.subscriptions[key] = count > 0 ? count : nil
        changedCounts.insert(key)
        return adjustTotal(key, by: delta)
    }

    /// Closes the user's sockets here and on every other node.
    public func terminate(app: String, userID: String) -> [Action] {
        quietIfDeparted([.terminate(app: app, userID: userID), .send(.terminate(node: localNode, app: app, userID: userID))])
    }

    /// Without what would reach other nodes once this node has departed.
    private func quietIfDeparted(_ actions: [Action]) -> [Action] {
        guard departed else { return actions }
        return actions.filter {
            switch $0 {
            case .send, .newcomer: false
            default: true
            }
        }
    }

    /// This node is stopping: it says so, and nothing after (a late leave or heartbeat would
    /// make the others take it back).
    public mutating func depart() -> [Action] {
        guard !departed else { return [] }
        departed = true
        return [.send(.departed(node: localNode))]
    }

    // MARK: - Time and the link

    /// Call about once a second: sends changed counts, a requested snapshot and the heartbeat,
    /// and forgets nodes silent for `silenceLimit` (not while this node's own link is down: it
    /// hears nobody then, and keeps what it knew until it hears again).
    public mutating func tick(now: MonotonicTime) -> [Action] {
        guard !departed else { return [] }
        var actions: [Action] = []
        if !changedCounts.isEmpty {
            sequence += 1
            var counts: [ChannelKey: Int] = [:]
            for key in changedCounts { counts[key] = local.subscriptions[key] ?? 0 }
            changedCounts = []
            actions.append(.send(.counts(node: localNode, sequence: sequence, counts)))
        }
        if snapshotDue {
            snapshotDue = false
            actions.append(.send(.snapshot(node: localNode, sequence: sequence, local)))
        }
        if lastHeartbeat.map({ now.duration(since: $0) >= Self.heartbeatInterval }) ?? true {
            lastHeartbeat = now
            actions.append(.send(.heartbeat(node: localNode, sequence: sequence)))
        }
        guard linkUp else { return actions }
        for (node, remote) in remotes.sorted(by: { $0.key < $1.key }) where now.duration(since: remote.heardAt) > Self.silenceLimit {
            actions += forget(node)
        }
        return actions
    }

    /// The link to the other nodes came up (again): this node tells them everything it holds
    /// and asks for everything they hold; silence is counted from now.
    public mutating func linkCameUp(now: MonotonicTime) -> [Action] {
        linkUp = true
        for node in remotes.keys { remotes[node]!.heardAt = now }
        changedCounts = []
        lastHeartbeat = now
        return quietIfDeparted([.send(.snapshot(node: localNode, sequence: sequence, local)), .send(.snapshotRequest(node: localNode, of: nil))])
    }

    public mutating func linkWentDown() {
        linkUp = false
    }

    // MARK: - Other nodes' messages

    public mutating func receive(_ message: ReplicaMessage, now: MonotonicTime) -> [Action] {
        quietIfDeparted(received(message, now: now))
    }

    private mutating func received(_ message: ReplicaMessage, now: MonotonicTime) -> [Action] {
        let node = message.node
        guard node != localNode else { return [] }
        switch message {
        case .joined(_, let sequence, let key, let userID, let info):
            return inSequence(node, sequence, now: now) { replica in
                replica.remotes[node]!.channels.members[key, default: [:]][userID] = info
                return replica.addHolder(node, of: userID, in: key) ? [.announce(.added(key, userID: userID, info: info))] : []
            }
        case .left(_, let sequence, let key, let userID):
            return inSequence(node, sequence, now: now) { replica in
                guard replica.remotes[node]!.channels.members[key]?.removeValue(forKey: userID) != nil else { return [] }
                if replica.remotes[node]!.channels.members[key]!.isEmpty { replica.remotes[node]!.channels.members[key] = nil }
                return replica.removeHolder(node, of: userID, in: key) ? [.announce(.removed(key, userID: userID))] : []
            }
        case .counts(_, let sequence, let counts):
            return inSequence(node, sequence, now: now) { replica in
                var actions: [Action] = []
                for (key, count) in counts.sorted(by: { $0.key < $1.key }) {
                    let before = replica.remotes[node]!.channels.subscriptions[key] ?? 0
                    replica.remotes[node]!.channels.subscriptions[key] = count > 0 ? count : nil
                    actions += replica.adjustTotal(key, by: max(0, count) - before)
                }
                return actions
            }
        case .snapshot(_, let sequence, let channels):
            if let remote = remotes[node], remote.synced, sequence < remote.sequence { return [] }  // older than what was applied
            return replace(node, with: channels, sequence: sequence, now: now)
        case .heartbeat(_, let sequence):
            guard let remote = remotes[node] else {
                remotes[node] = Remote(heardAt: now)
                return [.send(.snapshotRequest(node: localNode, of: node))]
            }
            remotes[node]!.heardAt = now
            // Changes travel in order on one link: a different number means one was lost.
            guard remote.synced && remote.sequence == sequence else {
                remotes[node]!.synced = false
                return [.send(.snapshotRequest(node: localNode, of: node))]
            }
            return []
        case .snapshotRequest(_, let of):
            remotes[node]?.heardAt = now
            if of == nil || of == localNode { snapshotDue = true }
            return of == nil ? [.newcomer(node)] : []
        case .departed:
            return remotes[node] == nil ? [] : forget(node)
        case .terminate(_, let app, let userID):
            return [.terminate(app: app, userID: userID)]
        case .cached, .caches, .seniority:
            return []  // not the replicas': the node's cache and webhook election take these
        }
    }

    /// Applies a numbered change when it is the next one from `node`; otherwise asks for a snapshot.
    private mutating func inSequence(
        _ node: String, _ sequence: UInt64, now: MonotonicTime, apply: (inout ReplicatedChannels) -> [Action]
    ) -> [Action] {
        guard let remote = remotes[node] else {
            remotes[node] = Remote(heardAt: now)
            return [.send(.snapshotRequest(node: localNode, of: node))]
        }
        remotes[node]!.heardAt = now
        guard remote.synced, sequence > remote.sequence else { return [] }  // awaiting a snapshot, or a repeat
        guard sequence == remote.sequence + 1 else {
            remotes[node]!.synced = false
            return [.send(.snapshotRequest(node: localNode, of: node))]
        }
        remotes[node]!.sequence = sequence
        return apply(&self)
    }

    /// Puts `channels` in place of what `node` held, announcing the difference.
    private mutating func replace(_ node: String, with channels: NodeChannels, sequence: UInt64, now: MonotonicTime) -> [Action] {
        let before = remotes[node]?.channels ?? NodeChannels()
        remotes[node] = Remote(channels: channels, sequence: sequence, heardAt: now, synced: true)
        var actions: [Action] = []
        for key in Set(before.members.keys).union(channels.members.keys).sorted() {
            let old = before.members[key] ?? [:]
            let new = channels.members[key] ?? [:]
            for user in old.keys.sorted() where new[user] == nil && removeHolder(node, of: user, in: key) {
                actions.append(.announce(.removed(key, userID: user)))
            }
            for (user, info) in new.sorted(by: { $0.key < $1.key }) where old[user] == nil && addHolder(node, of: user, in: key) {
                actions.append(.announce(.added(key, userID: user, info: info)))
            }
        }
        for key in Set(before.subscriptions.keys).union(channels.subscriptions.keys).sorted() {
            actions += adjustTotal(key, by: max(0, channels.subscriptions[key] ?? 0) - (before.subscriptions[key] ?? 0))
        }
        return actions
    }

    /// Drops everything `node` held: it departed or fell silent.
    private mutating func forget(_ node: String) -> [Action] {
        let actions = replace(node, with: NodeChannels(), sequence: 0, now: MonotonicTime(nanoseconds: 0))
        remotes[node] = nil
        return actions
    }

    // MARK: - Aggregates

    /// True when `node` is the first to hold the user in the channel.
    private mutating func addHolder(_ node: String, of user: String, in key: ChannelKey) -> Bool {
        let first = holders[key]?[user] == nil
        holders[key, default: [:]][user, default: []].insert(node)
        return first
    }

    /// True when `node` was the last to hold the user in the channel.
    private mutating func removeHolder(_ node: String, of user: String, in key: ChannelKey) -> Bool {
        guard holders[key]?[user]?.remove(node) != nil else { return false }
        guard holders[key]![user]!.isEmpty else { return false }
        holders[key]![user] = nil
        if holders[key]!.isEmpty { holders[key] = nil }
        return true
    }

    private mutating func adjustTotal(_ key: ChannelKey, by delta: Int) -> [Action] {
        guard delta != 0 else { return [] }
        let total = max(0, (totals[key] ?? 0) + delta)
        totals[key] = total > 0 ? total : nil
        return [.countChanged(key, total: total)]
    }
}
