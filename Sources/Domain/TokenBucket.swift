// A token bucket: how many attempts a client may make in a burst, and how fast it earns more.

/// `rate` tokens a second, at most `burst` saved up; each admitted attempt spends one.
/// A new bucket is full, so a client that reconnects after a while gets its whole burst.
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let burst: Double
    public private(set) var tokens: Double
    private var refilledAt: MonotonicTime

    public init(rate: Double, burst: Double, now: MonotonicTime) {
        self.rate = rate
        self.burst = max(1, burst)
        tokens = self.burst
        refilledAt = now
    }

    /// Spends one token if there is one.
    public mutating func take(now: MonotonicTime) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// Whether it would be full at `now`: then forgetting it changes nothing.
    public func isFull(now: MonotonicTime) -> Bool {
        var copy = self
        copy.refill(now: now)
        return copy.tokens >= copy.burst
    }

    private mutating func refill(now: MonotonicTime) {
        let elapsed = Double(now.duration(since: refilledAt).wholeNanoseconds) / 1e9
        tokens = min(burst, tokens + elapsed * rate)
        refilledAt = max(refilledAt, now)
    }
}
