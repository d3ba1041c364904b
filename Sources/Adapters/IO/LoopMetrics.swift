// Counters of one loop: plain integers, written only on that loop, summed at scrape time.

/// What one loop counts. No lock and no atomic: only the owning loop writes, and a scrape reads
/// it on that loop too (through `execute`), so a publish, a delivery or a write costs one
/// addition. Every loop owns one (`EventLoop.metrics`); whatever runs on the loop counts there.
public final class LoopMetrics {
    /// Publishes the internal API accepted on this loop.
    public internal(set) var publishes = 0
    /// Pushes this loop's shard wrote to a subscriber's queue (one per subscriber per publish).
    public internal(set) var deliveries = 0
    /// Bytes read from and written to every socket of this loop.
    public internal(set) var bytesReceived = 0
    public internal(set) var bytesSent = 0
    /// Close frames this loop's WebSocket connections sent, by close code. Dictionaries are
    /// fine here: a close or a refusal is not on the delivery path.
    public internal(set) var closes: [UInt16: Int] = [:]
    /// Subscribers that failed to authenticate, by reason (`auth_required`, `bad_signature`, ...).
    public internal(set) var authFailures: [String: Int] = [:]
    /// Connections or handshakes refused before a subscription, by reason (`max_connections`, ...).
    public internal(set) var refusals: [String: Int] = [:]
    /// TLS handshakes that finished, and those that failed by reason (`timeout`, `plain_http`, ...).
    public internal(set) var tlsHandshakes = 0
    public internal(set) var tlsHandshakeFailures: [String: Int] = [:]
    /// Subscribers that named a position: resumed, or told to refetch; and the messages replayed.
    public internal(set) var resumesRecovered = 0
    public internal(set) var resumesResync = 0
    public internal(set) var messagesReplayed = 0
    /// In-band token refreshes that moved an expiry, and those refused.
    public internal(set) var tokenRefreshes = 0
    public internal(set) var tokenRefreshesRefused = 0
    /// Unsent pushes of latest-value topics replaced by a newer one instead of queued behind it.
    public internal(set) var pushesReplaced = 0

    public init() {}

    public func countClose(_ code: UInt16) { closes[code, default: 0] += 1 }
    public func countAuthFailure(_ reason: String) { authFailures[reason, default: 0] += 1 }
    public func countRefusal(_ reason: String) { refusals[reason, default: 0] += 1 }
    func countTLSHandshakeFailure(_ reason: String) { tlsHandshakeFailures[reason, default: 0] += 1 }

    /// A copy, taken on the loop.
    var snapshot: Snapshot {
        Snapshot(
            publishes: publishes, deliveries: deliveries, bytesReceived: bytesReceived, bytesSent: bytesSent,
            closes: closes, authFailures: authFailures, refusals: refusals, tlsHandshakes: tlsHandshakes,
            tlsHandshakeFailures: tlsHandshakeFailures, resumesRecovered: resumesRecovered, resumesResync: resumesResync,
            messagesReplayed: messagesReplayed, tokenRefreshes: tokenRefreshes, tokenRefreshesRefused: tokenRefreshesRefused,
            pushesReplaced: pushesReplaced)
    }

    struct Snapshot: Sendable {
        var publishes = 0
        var deliveries = 0
        var bytesReceived = 0
        var bytesSent = 0
        var closes: [UInt16: Int] = [:]
        var authFailures: [String: Int] = [:]
        var refusals: [String: Int] = [:]
        var tlsHandshakes = 0
        var tlsHandshakeFailures: [String: Int] = [:]
        var resumesRecovered = 0
        var resumesResync = 0
        var messagesReplayed = 0
        var tokenRefreshes = 0
        var tokenRefreshesRefused = 0
        var pushesReplaced = 0

        static func + (lhs: Snapshot, rhs: Snapshot) -> Snapshot {
            Snapshot(
                publishes: lhs.publishes + rhs.publishes, deliveries: lhs.deliveries + rhs.deliveries,
                bytesReceived: lhs.bytesReceived + rhs.bytesReceived, bytesSent: lhs.bytesSent + rhs.bytesSent,
                closes: lhs.closes.merging(rhs.closes, uniquingKeysWith: +),
                authFailures: lhs.authFailures.merging(rhs.authFailures, uniquingKeysWith: +),
                refusals: lhs.refusals.merging(rhs.refusals, uniquingKeysWith: +),
                tlsHandshakes: lhs.tlsHandshakes + rhs.tlsHandshakes,
                tlsHandshakeFailures: lhs.tlsHandshakeFailures.merging(rhs.tlsHandshakeFailures, uniquingKeysWith: +),
                resumesRecovered: lhs.resumesRecovered + rhs.resumesRecovered, resumesResync: lhs.resumesResync + rhs.resumesResync,
                messagesReplayed: lhs.messagesReplayed + rhs.messagesReplayed,
                tokenRefreshes: lhs.tokenRefreshes + rhs.tokenRefreshes, tokenRefreshesRefused: lhs.tokenRefreshesRefused + rhs.tokenRefreshesRefused,
                pushesReplaced: lhs.pushesReplaced + rhs.pushesReplaced)
        }
    }
}
