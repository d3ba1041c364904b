// Which node sends the cluster's webhook events, so that each goes out once, and what happens
// to an event when that node dies or loses Redis.

/// Every node with webhooks derives the same events from the same replicas; one sends them:
/// the most senior, the node whose link to the others has been up longest (by the wall-clock
/// time each announces, ties by id). A newcomer is never the sender while an older node lives,
/// so what it learns on arrival (members that joined long ago) is never sent as news.
///
/// The others hold each event until the sender acknowledges it: the sender repeats its
/// seniority every second while it has sent anything in the last `margin`, and an
/// acknowledgement heard at T covers what came due here before T - `margin` (the sender may
/// derive an event up to two seconds after another node: counts travel on the tick, delays end
/// on it). If the sender falls silent (`staleAfter`) or departs first, the next sender sends
/// what it holds. That makes delivery at least once: events that came due in about the last
/// `margin` + 1 s before a sender died can go twice; an event a dead sender acknowledged and
/// had not delivered yet is gone with it. Events that came due here while this node's link was
/// down are sent by whichever node is the sender once the link is back and settled.
///
/// A value: offers and ticks return the events to send now.
public struct WebhookElection: Sendable {
    /// A sender not heard for this long is presumed dead (a heartbeat goes every 5 s).
    public static let staleAfter: Duration = .seconds(8)
    /// After its link comes up, a node waits this long, hearing who is older, before it sends.
    public static let settle: Duration = .seconds(3)
    /// How much later than this node the sender may derive an event: a count a tick late, a
    /// delay ending a tick late, and the latency between them.
    public static let margin: Duration = .seconds(3)
    /// A held event is dropped after this long.
    public static let holdLimit: Duration = .seconds(30)
    /// A remote node silent for this long is forgotten (as the replicas forget it).
    public static let forgetAfter: Duration = .seconds(15)
    /// How often a node says its seniority when it has nothing to acknowledge.
    public static let seniorityInterval: Duration = .seconds(5)
    /// How long a sender keeps acknowledging after its last event: another node may see an
    /// event come due up to two seconds after it was sent here.
    public static let acknowledgingFor: Duration = margin + .seconds(2)

    private struct Remote {
        var linkedSince: Int64?
        var heardAt: MonotonicTime
        /// When its last seniority (its acknowledgement of what it sent) arrived.
        var acknowledgedAt: MonotonicTime?
    }

    private struct Held {
        let event: ScopedWebhookEvent
        let dueAt: MonotonicTime
        /// The node that should have sent it; nil when no node could at the time.
        var presumed: String?
    }

    public let localNode: String
    /// False without a cluster link at all (a single node on the in-memory bus): it sends everything.
    public let clustered: Bool
    /// Wall-clock milliseconds since this node's link has been up; nil while it is down.
    public private(set) var linkedSince: Int64?
    private var linkedAt: MonotonicTime?
    private var wasLinked = false
    /// When the link last went down; events that came due after it wait for a settled sender.
    private var linkLostAt: MonotonicTime?
    private var remotes: [String: Remote] = [:]
    private var held: [Held] = []
    /// Held events dropped after `holdLimit` with no node to send them.
    public private(set) var expiredCount = 0
    /// When this node last sent an event, while it still acknowledges it.
    private var lastSent: MonotonicTime?
    /// When this node last said its seniority; nil: say it on the next tick.
    private var lastSaid: MonotonicTime?

    public init(localNode: String, clustered: Bool) {
        self.localNode = localNode
        self.clustered = clustered
    }

    // MARK: - What the node hears

    public mutating func linkCameUp(now: MonotonicTime, wallMilliseconds: Int64) {
        linkedSince = wallMilliseconds
        linkedAt = now
        wasLinked = true
        lastSaid = nil  // said on the next tick, with the answers to its snapshot request
        // Silence is counted from now; what came due meanwhile nobody else saw come due.
        for node in remotes.keys { remotes[node]!.heardAt = now }
        if let lost = linkLostAt {
            for index in held.indices where held[index].dueAt >= lost { held[index].presumed = nil }
        }
        linkLostAt = nil
    }

    public mutating func linkWentDown(now: MonotonicTime) {
        linkedSince = nil
        linkedAt = nil
        if linkLostAt == nil { linkLostAt = now }
    }

    /// Any message from `node`: it is alive.
    public mutating func heard(_ node: String, now: MonotonicTime) {
        guard node != localNode else { return }
        remotes[node, default: Remote(heardAt: now)].heardAt = now
    }

    /// `node` came up and asked everyone for their state: it learns who is senior from the
    /// next seniority, within its settling time.
    public mutating func newcomer(_ node: String, now: MonotonicTime) {
        heard(node, now: now)
        lastSaid = nil
    }

    /// `node`'s seniority: its link has been up since `linkedSince`, and it has sent what came
    /// due before now - `margin`.
    public mutating func acknowledged(_ node: String, linkedSince: Int64, now: MonotonicTime) {
        guard node != localNode else { return }
        remotes[node, default: Remote(heardAt: now)].heardAt = now
        remotes[node]!.linkedSince = linkedSince
        remotes[node]!.acknowledgedAt = now
    }

    /// `node` is stopping: it sends nothing more, and has sent (within its stop budget) what it
    /// had derived.
    public mutating func departed(_ node: String, now: MonotonicTime) {
        guard remotes[node] != nil else { return }
        remotes[node]!.heardAt = now
        remotes[node]!.linkedSince = nil
    }

    // MARK: - Who sends

    /// The sender as of `now`: nil while it cannot be known (this node would be the sender but
    /// is still settling, or its link is down while it knows other nodes).
    public func sender(now: MonotonicTime) -> String? {
        guard clustered else { return localNode }
        var best: (since: Int64, node: String)?
        for (node, remote) in remotes {
            guard let since = remote.linkedSince, now.duration(since: remote.heardAt) <= Self.staleAfter else { continue }
            if best.map({ (since, node) < ($0.since, $0.node) }) ?? true { best = (since, node) }
        }
        if let mine = linkedSince, best.map({ (mine, localNode) < ($0.since, $0.node) }) ?? true {
            guard let linkedAt, now.duration(since: linkedAt) >= Self.settle else { return nil }
            return localNode
        }
        // A node that was alone when it lost its link is still the only one that can send.
        if best == nil && linkedSince == nil && remotes.isEmpty && wasLinked { return localNode }
        return best?.node
    }

    // MARK: - Events

    /// `event` came due on this node: returned when this node sends it, held otherwise.
    public mutating func offer(_ event: ScopedWebhookEvent, now: MonotonicTime) -> [ScopedWebhookEvent] {
        let sender = sender(now: now)
        if sender == localNode {
            lastSent = now
            return [event]
        }
        held.append(Held(event: event, dueAt: now, presumed: sender))
        return []
    }

    /// Once a second: forgets long-silent nodes and returns held events this node now sends.
    public mutating func tick(now: MonotonicTime) -> [ScopedWebhookEvent] {
        if linkedSince != nil {
            for (node, remote) in remotes where now.duration(since: remote.heardAt) > Self.forgetAfter { remotes[node] = nil }
        }
        guard !held.isEmpty else { return [] }
        let current = sender(now: now)
        var release: [ScopedWebhookEvent] = []
        var expired = 0
        held.removeAll { item in
            if now.duration(since: item.dueAt) > Self.holdLimit {
                expired += 1
                return true
            }
            // Acknowledged after the event came due: the presumed sender sent it.
            if let presumed = item.presumed, let at = remotes[presumed]?.acknowledgedAt, at >= item.dueAt.advanced(by: Self.margin) {
                return true
            }
            guard let current else { return false }
            if current == localNode {
                release.append(item.event)
                return true
            }
            // Still waiting to hear from the presumed sender; any other sender holds it too.
            return current != item.presumed
        }
        expiredCount += expired
        if !release.isEmpty { lastSent = now }
        return release
    }

    public var heldCount: Int { held.count }

    /// The seniority to say now, if one is due (call once a tick): every
    /// `seniorityInterval`, and on every tick while acknowledging what this node sent, which
    /// tells the others to drop what came due a margin before.
    public mutating func seniorityDue(now: MonotonicTime) -> Int64? {
        let acknowledging = lastSent != nil
        if let last = lastSent, now.duration(since: last) > Self.acknowledgingFor { lastSent = nil }
        guard let linkedSince else { return nil }
        guard acknowledging || (lastSaid.map { now.duration(since: $0) >= Self.seniorityInterval } ?? true) else { return nil }
        lastSaid = now
        return linkedSince
    }
}
