// The roster heartbeat's lifecycle: write the own entry, read the roster, prune, remove on stop.
public import Domain

/// What the node does with its roster entry, as a value: each event returns the one action
/// the driver performs. Writes and reads go in turn on one connection, so a removal sent on
/// stop follows any write still in flight and Redis applies them in that order.
public struct RosterCycle: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Before the link is up, or after it was lost: nothing is sent.
        case waitingForLink
        /// Between heartbeats.
        case idle
        /// The own entry's HSET is unanswered.
        case writing
        /// The HGETALL after a write is unanswered; after a write that failed, nothing is pruned
        /// (upstream prunes only after its own write took).
        case reading(prunes: Bool)
        /// Stopping while the link is down: the removal waits for it, at most the removal's deadline.
        case awaitingLinkToRemove
        /// Stopping: the own entry's HDEL is unanswered.
        case removing
        case stopped
    }

    public enum Action: Sendable, Equatable {
        case none
        /// HSET the own entry.
        case write
        /// HGETALL the roster.
        case read
        /// Keep `entries` (the stale ones left out) as the roster, and HDEL `stale` when it is not empty.
        case publish(entries: [NodeEntry], stale: [String])
        /// HDEL the own entry; then `removed()` with its answer or at its deadline.
        case removeSelf
        /// Arm the removal's deadline (`removed()` when it passes) and wait for the link.
        case awaitLinkToRemove
        /// Close the link: the cycle is over.
        case finish
    }

    public private(set) var state: State = .waitingForLink

    public init() {}

    /// The link came up (first connect or reconnect): write at once.
    public mutating func linkReady() -> Action {
        switch state {
        case .waitingForLink:
            state = .writing
            return .write
        case .awaitingLinkToRemove:
            state = .removing
            return .removeSelf
        default:
            return .none
        }
    }

    /// The link was lost; replies still due come back empty and are ignored.
    public mutating func linkLost() -> Action {
        switch state {
        case .idle, .writing, .reading:
            state = .waitingForLink
            return .none
        case .removing:
            state = .stopped
            return .finish
        case .waitingForLink, .awaitingLinkToRemove, .stopped:
            return .none
        }
    }

    /// The heartbeat timer: the next write, unless the last one is still unanswered.
    public mutating func heartbeatDue() -> Action {
        guard state == .idle else { return .none }
        state = .writing
        return .write
    }

    /// The HSET's answer: read the roster either way, so the copy stays fresh while this node's
    /// own writes fail; prune only after a write that took.
    public mutating func written(ok: Bool) -> Action {
        guard state == .writing else { return .none }
        state = .reading(prunes: ok)
        return .read
    }

    /// The HGETALL's answer: the entries with the keys they are stored under, nil on failure.
    public mutating func read(_ entries: [(key: String, entry: NodeEntry)]?, now: WallTime) -> Action {
        guard case .reading(let prunes) = state else { return .none }
        state = .idle
        guard let entries else { return .none }
        guard prunes else { return .publish(entries: entries.map(\.entry), stale: []) }
        let stale = NodeRoster.stale(entries, at: now)
        let staleKeys = Set(stale)
        return .publish(entries: entries.filter { !staleKeys.contains($0.key) }.map(\.entry), stale: stale)
    }

    /// The node stops: remove the own entry, at once if the link is up, else when it comes up
    /// before the removal's deadline (a Redis blip just before a rolling restart).
    public mutating func stop() -> Action {
        switch state {
        case .idle, .writing, .reading:
            state = .removing
            return .removeSelf
        case .waitingForLink:
            state = .awaitingLinkToRemove
            return .awaitLinkToRemove
        case .awaitingLinkToRemove, .removing, .stopped:
            return .none
        }
    }

    /// The HDEL's answer, or the removal's deadline.
    public mutating func removed() -> Action {
        guard state == .removing || state == .awaitingLinkToRemove else { return .none }
        state = .stopped
        return .finish
    }
}
