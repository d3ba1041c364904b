// What nodes tell each other about the channels they hold: the vocabulary of the replicas.

/// A channel of one app, named as every node names it.
public struct ChannelKey: Hashable, Comparable, Sendable {
    public let app: String
    public let channel: String

    public init(app: String, channel: String) {
        self.app = app
        self.channel = channel
    }

    public static func < (lhs: ChannelKey, rhs: ChannelKey) -> Bool {
        (lhs.app, lhs.channel) < (rhs.app, rhs.channel)
    }
}

/// What one node holds: its presence members (user id to the `user_info` JSON it joined with,
/// empty for none) and its subscriptions per channel.
public struct NodeChannels: Equatable, Sendable {
    public var members: [ChannelKey: [String: [UInt8]]]
    public var subscriptions: [ChannelKey: Int]

    public init(members: [ChannelKey: [String: [UInt8]]] = [:], subscriptions: [ChannelKey: Int] = [:]) {
        self.members = members
        self.subscriptions = subscriptions
    }

    public var isEmpty: Bool { members.isEmpty && subscriptions.isEmpty }
}

/// One message between nodes. Every change a node makes to what it holds carries the next
/// number of its sequence, so a receiver sees a gap and asks for the whole state instead of
/// guessing; heartbeats carry the number reached, so a lost last change shows too.
public enum ReplicaMessage: Equatable, Sendable {
    /// The node's first socket of `userID` joined the presence channel.
    case joined(node: String, sequence: UInt64, key: ChannelKey, userID: String, info: [UInt8])
    /// The node's last socket of `userID` left the presence channel.
    case left(node: String, sequence: UInt64, key: ChannelKey, userID: String)
    /// The node's subscription counts of the channels that changed (0: none left).
    case counts(node: String, sequence: UInt64, [ChannelKey: Int])
    /// Everything the node holds, as of `sequence`.
    case snapshot(node: String, sequence: UInt64, NodeChannels)
    /// The node is alive and has made `sequence` changes.
    case heartbeat(node: String, sequence: UInt64)
    /// The node asks for a snapshot: of `of`, or of every node when nil (it just came up).
    case snapshotRequest(node: String, of: String?)
    /// The node is stopping: forget it now rather than when it falls silent.
    case departed(node: String)
    /// Close every socket of the user, on every node.
    case terminate(node: String, app: String, userID: String)
    /// The node published `event` to a cache channel.
    case cached(node: String, key: ChannelKey, event: CachedEvent)
    /// Every cached event the node holds, for a node that came up.
    case caches(node: String, [ChannelKey: CachedEvent])
    /// The node sends webhooks when it is the most senior: its link has been up since
    /// `linkedSince` (Unix milliseconds).
    case seniority(node: String, linkedSince: Int64)

    /// The node that sent it.
    public var node: String {
        switch self {
        case .joined(let node, _, _, _, _), .left(let node, _, _, _), .counts(let node, _, _), .snapshot(let node, _, _),
            .heartbeat(let node, _), .snapshotRequest(let node, _), .departed(let node), .terminate(let node, _, _),
            .cached(let node, _, _), .caches(let node, _), .seniority(let node, _):
            return node
        }
    }
}
