// The last event of each cache channel, as the cluster keeps it: every node holds every entry.

/// One cached event: the message as subscribers receive it, and when it was published and
/// expires, on the publishing node's wall clock (the only time nodes share).
public struct CachedEvent: Equatable, Sendable {
    /// The whole event message, `{"event":…,"channel":…,"data":…}`.
    public var message: [UInt8]
    /// Unix milliseconds.
    public var publishedAt: Int64
    public var expiresAt: Int64
    /// The node it was published on: of two events published in the same millisecond, the
    /// one from the greater node id wins everywhere.
    public var origin: String

    public init(message: [UInt8], publishedAt: Int64, expiresAt: Int64, origin: String) {
        self.message = message
        self.publishedAt = publishedAt
        self.expiresAt = expiresAt
        self.origin = origin
    }

    func isNewer(than other: CachedEvent) -> Bool {
        (publishedAt, origin) > (other.publishedAt, other.origin)
    }
}

/// The last event published to each cache channel. Nodes offer each other what they publish
/// and, to a node that comes up, everything they hold; the latest publish wins wherever the
/// offers meet, so every node ends with the same entry. Bounded: past `maxEntries` the entry
/// that would expire first goes.
public struct ChannelCache: Sendable {
    public static let maxEntries = 10_000

    private var entries: [ChannelKey: CachedEvent] = [:]

    public init() {}

    /// Keeps `event` for `key` unless a later one is held or it has expired; true when it took.
    @discardableResult
    public mutating func offer(_ event: CachedEvent, for key: ChannelKey, nowMilliseconds now: Int64) -> Bool {
        guard event.expiresAt > now else { return false }
        if let held = entries[key], held.expiresAt > now, !event.isNewer(than: held) { return false }
        entries[key] = event
        if entries.count > Self.maxEntries, let first = entries.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
            entries[first.key] = nil
        }
        return true
    }

    /// The channel's cached event, if one is held and not expired.
    public func event(for key: ChannelKey, nowMilliseconds now: Int64) -> CachedEvent? {
        guard let held = entries[key], held.expiresAt > now else { return nil }
        return held
    }

    /// Every live entry, for a node that comes up.
    public func live(nowMilliseconds now: Int64) -> [ChannelKey: CachedEvent] {
        entries.filter { $0.value.expiresAt > now }
    }

    /// Drops what has expired.
    public mutating func prune(nowMilliseconds now: Int64) {
        entries = entries.filter { $0.value.expiresAt > now }
    }

    public var count: Int { entries.count }
}
