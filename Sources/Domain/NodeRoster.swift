// The node roster: which worker nodes share a cluster, and the rules every node reads it by.

/// Who a node is, fixed for the life of its process.
public struct NodeIdentity: Sendable, Equatable {
    /// 16 lowercase hex characters, random per process; also the node's `origin_id` on the bus.
    public var id: String
    /// The host name, or the id when there is none.
    public var name: String
    public var version: String
    public var startedAt: WallTime

    public init(id: String, name: String, version: String, startedAt: WallTime) {
        self.id = id
        self.name = name.isEmpty ? id : name
        self.version = version
        self.startedAt = startedAt
    }
}

/// One node's entry as written to the roster: who it is, when it last wrote, and its figures.
public struct NodeEntry: Sendable, Equatable {
    public var identity: NodeIdentity
    public var seenAt: WallTime
    public var activeTopics: Int
    public var connectedClients: Int
    public var connectedSockets: Int

    public init(identity: NodeIdentity, seenAt: WallTime, activeTopics: Int, connectedClients: Int, connectedSockets: Int) {
        self.identity = identity
        self.seenAt = seenAt
        self.activeTopics = activeTopics
        self.connectedClients = connectedClients
        self.connectedSockets = connectedSockets
    }
}

/// An entry as a reader sees it at one moment: alive or not, and its uptime.
public struct NodeStanding: Sendable, Equatable {
    public var entry: NodeEntry
    public var alive: Bool
    /// Whole seconds, rounded half away from zero (Go's `Duration.Round(time.Second)`).
    public var uptimeSeconds: Int64

    public init(entry: NodeEntry, alive: Bool, uptimeSeconds: Int64) {
        self.entry = entry
        self.alive = alive
        self.uptimeSeconds = uptimeSeconds
    }

    /// Uptime in Go's duration notation (`3h22m0s`).
    public var uptime: String { GoDuration.format(seconds: uptimeSeconds) }
}

/// The roster's rules, shared with upstream nodes: every node writes its entry each
/// `heartbeatInterval`, and readers judge entries by `seen_at` alone, whatever else is stored.
public enum NodeRoster {
    public static let heartbeatInterval: Duration = .seconds(5)
    /// Three missed heartbeats.
    public static let aliveWindow: Duration = .seconds(15)
    /// A dead entry is forgotten after this long even when no alive node took its name.
    public static let forgetAfter: Duration = .seconds(15 * 60)

    /// How `entry` stands at `now`: alive while its last write is less than `aliveWindow` old;
    /// uptime counted up to `now`, or up to its last write for a dead node.
    public static func standing(of entry: NodeEntry, at now: WallTime) -> NodeStanding {
        let alive = now.duration(since: entry.seenAt) < aliveWindow
        let end = alive ? now : entry.seenAt
        let uptime = end.duration(since: entry.identity.startedAt)
        return NodeStanding(entry: entry, alive: alive, uptimeSeconds: roundedSeconds(uptime))
    }

    /// Every entry's standing, sorted by name, then id (byte order, as Go compares strings).
    public static func standings(of entries: [NodeEntry], at now: WallTime) -> [NodeStanding] {
        entries.map { standing(of: $0, at: now) }.sorted { first, second in
            let (a, b) = (first.entry.identity, second.entry.identity)
            if a.name != b.name { return a.name.utf8.lexicographicallyPrecedes(b.name.utf8) }
            return a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
        }
    }

    /// The keys of entries to delete: dead ones whose name an alive entry carries (the same host
    /// restarted), and dead ones not seen for `forgetAfter`.
    /// - Parameter entries: each entry with the key it is stored under.
    public static func stale(_ entries: [(key: String, entry: NodeEntry)], at now: WallTime) -> [String] {
        let standings = entries.map { (key: $0.key, standing: standing(of: $0.entry, at: now)) }
        let aliveNames = Set(standings.filter(\.standing.alive).map(\.standing.entry.identity.name))
        return standings.filter { item in
            let entry = item.standing.entry
            return !item.standing.alive && (aliveNames.contains(entry.identity.name) || now.duration(since: entry.seenAt) > forgetAfter)
        }.map(\.key)
    }

    /// Whole seconds, half away from zero.
    static func roundedSeconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let half: Int64 = 500_000_000_000_000_000
        if attoseconds >= half { return seconds + 1 }
        if attoseconds <= -half { return seconds - 1 }
        return seconds
    }
}
