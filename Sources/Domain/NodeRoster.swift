// The node roster: which worker nodes share a cluster, and the rules every node reads it by.

/// Who a node is, fixed for the life of its process.
public struct NodeIdentity: Sendable, Equatable {
    /// 16 lowercase hex characters, random per process; also the node's `origin_id` on the bus.
    public var id: String
    /// The host name (a node names itself by its id when it has none; an entry read may carry "").
    public var name: String
    public var version: String
    public var startedAt: WallTime

    public init(id: String, name: String, version: String, startedAt: WallTime) {
        self.id = id
        self.name = name
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
    /// Uptime in Go's duration notation (`3h22m0s`).
    public var uptime: String

    public init(entry: NodeEntry, alive: Bool, uptimeSeconds: Int64, uptime: String? = nil) {
        self.entry = entry
        self.alive = alive
        self.uptimeSeconds = uptimeSeconds
        self.uptime = uptime ?? GoDuration.format(seconds: uptimeSeconds)
    }
}

/// The roster as read from the shared store at one moment.
public struct RosterReading: Sendable, Equatable {
    public var entries: [NodeEntry]
    /// When the entries were read; an entry is judged alive as of then, so a reading a few
    /// seconds old never shows a live node dead.
    public var readAt: WallTime

    public init(entries: [NodeEntry], readAt: WallTime) {
        self.entries = entries
        self.readAt = readAt
    }
}

/// The roster's rules, shared with upstream nodes: every node writes its entry each
/// `heartbeatInterval`, and readers judge entries by `seen_at` alone, whatever else is stored.
public enum NodeRoster {
    public static let heartbeatInterval: Duration = .seconds(5)
    /// Three missed heartbeats.
    public static let aliveWindow: Duration = .seconds(15)
    /// A dead entry is forgotten after this long even when no alive node took its name.
    public static let forgetAfter: Duration = .seconds(15 * 60)

    /// How `entry` stands at `now`: alive while its last write is less than `aliveWindow` old
    /// (at `judgedAt`, the moment it was read, when that is earlier); uptime counted up to `now`,
    /// or up to its last write for a dead node.
    public static func standing(of entry: NodeEntry, at now: WallTime, judgedAt: WallTime? = nil) -> NodeStanding {
        let judged = judgedAt.map { now.duration(since: $0) > .zero ? $0 : now } ?? now
        let alive = judged.duration(since: entry.seenAt) < aliveWindow
        let end = alive ? now : entry.seenAt
        let uptime = end.duration(since: entry.identity.startedAt)
        // Go's Time.Sub saturates at ±(2^63 - 1) ns, and rounding the maximum keeps it.
        let limit = Duration.nanoseconds(Int64.max)
        if uptime >= limit { return NodeStanding(entry: entry, alive: alive, uptimeSeconds: 9_223_372_036, uptime: "2562047h47m16.854775807s") }
        if uptime <= .zero - limit {
            return NodeStanding(entry: entry, alive: alive, uptimeSeconds: -9_223_372_036, uptime: "-2562047h47m16.854775808s")
        }
        return NodeStanding(entry: entry, alive: alive, uptimeSeconds: roundedSeconds(uptime))
    }

    /// Every entry of `reading` as it stands at `now`, sorted by name, then id (byte order, as Go
    /// compares strings).
    public static func standings(of reading: RosterReading, at now: WallTime) -> [NodeStanding] {
        reading.entries.map { standing(of: $0, at: now, judgedAt: reading.readAt) }.sorted { first, second in
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
