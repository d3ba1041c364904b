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
        /// The HGETALL after a write is unanswered.
        case reading
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
        /// HDEL the own entry, then `removed` or `removalTimedOut`.
        case removeSelf
        /// Close the link: the cycle is over.
        case finish
    }

    public private(set) var state: State = .waitingForLink

    public init() {}

    /// The link came up (first connect or reconnect): write at once.
    public mutating func linkReady() -> Action {
        guard state == .waitingForLink else { return .none }
        state = .writing
        return .write
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
        case .waitingForLink, .stopped:
            return .none
        }
    }

    /// The heartbeat timer: the next write, unless the last one is still unanswered.
    public mutating func heartbeatDue() -> Action {
        guard state == .idle else { return .none }
        state = .writing
        return .write
    }

    /// The HSET's answer: read the roster after a write that took.
    public mutating func written(ok: Bool) -> Action {
        guard state == .writing else { return .none }
        state = ok ? .reading : .idle
        return ok ? .read : .none
    }

    /// The HGETALL's answer: the entries with the keys they are stored under, nil on failure.
    public mutating func read(_ entries: [(key: String, entry: NodeEntry)]?, now: WallTime) -> Action {
        guard state == .reading else { return .none }
        state = .idle
        guard let entries else { return .none }
        let stale = NodeRoster.stale(entries, at: now)
        let kept = entries.filter { !stale.contains($0.key) }.map(\.entry)
        return .publish(entries: kept, stale: stale)
    }

    /// The node stops: remove the own entry if the link is up.
    public mutating func stop() -> Action {
        switch state {
        case .idle, .writing, .reading:
            state = .removing
            return .removeSelf
        case .waitingForLink:
            state = .stopped
            return .finish
        case .removing, .stopped:
            return .none
        }
    }

    /// The HDEL's answer, or its deadline.
    public mutating func removed() -> Action {
        guard state == .removing else { return .none }
        state = .stopped
        return .finish
    }
}
