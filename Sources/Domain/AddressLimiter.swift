// Per-client-address limits: concurrent connections and the handshake rate.

/// Counts admitted connections per client address and spends a token-bucket token per
/// handshake. Not thread-safe: its owner serialises access. Memory is bounded by the addresses
/// that hold a connection or an unfull bucket; others are forgotten.
public struct AddressLimiter: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Admitted connections per address; 0: no limit.
        public var maxConcurrent = 0
        /// Handshakes per second per address; 0: no limit.
        public var ratePerSecond = 0.0
        /// Handshakes an address may make at once; 0: twice the rate.
        public var burst = 0.0

        public init() {}

        public var isOff: Bool { maxConcurrent == 0 && ratePerSecond == 0 }
        var effectiveBurst: Double { burst > 0 ? burst : max(1, 2 * ratePerSecond) }
    }

    /// Why a handshake was refused; the raw value is the reason in logs and metrics.
    public enum Refusal: String, Error, Sendable, Equatable {
        case tooManyConnections = "per_ip_connections"
        case tooManyHandshakes = "per_ip_rate"
    }

    private struct Entry {
        var open = 0
        var bucket: TokenBucket?
    }

    public let settings: Settings
    private var entries: [String: Entry] = [:]
    /// The table is swept for forgettable entries when it grows past this.
    private var sweepAt = 4096

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Addresses it remembers now.
    public var trackedAddresses: Int { entries.count }

    /// Admits one handshake from `address` and counts its connection, or says why not. The rate
    /// is checked first: a refused attempt spends no token but a flood of them is still refused.
    public mutating func admit(_ address: String, now: MonotonicTime) -> Refusal? {
        var entry = entries[address] ?? Entry()
        if settings.ratePerSecond > 0 {
            var bucket = entry.bucket ?? TokenBucket(rate: settings.ratePerSecond, burst: settings.effectiveBurst, now: now)
            let allowed = bucket.take(now: now)
            entry.bucket = bucket
            if !allowed {
                entries[address] = entry
                return .tooManyHandshakes
            }
        }
        if settings.maxConcurrent > 0 && entry.open >= settings.maxConcurrent {
            entries[address] = entry
            return .tooManyConnections
        }
        entry.open += 1
        entries[address] = entry
        if entries.count > sweepAt { sweep(now: now) }
        return nil
    }

    /// A connection `admit` counted has closed.
    public mutating func release(_ address: String, now: MonotonicTime) {
        guard var entry = entries[address] else { return }
        entry.open = max(0, entry.open - 1)
        if entry.open == 0 && (entry.bucket?.isFull(now: now) ?? true) {
            entries.removeValue(forKey: address)
        } else {
            entries[address] = entry
        }
    }

    /// Forgets addresses with no connection and a full bucket. Amortised: the next sweep waits
    /// until the table has doubled from what is left.
    private mutating func sweep(now: MonotonicTime) {
        entries = entries.filter { $0.value.open > 0 || !($0.value.bucket?.isFull(now: now) ?? true) }
        sweepAt = max(4096, 2 * entries.count)
    }
}
