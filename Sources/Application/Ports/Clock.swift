// Port: the time, so that every use case can be tested with a manual clock.
public import Domain

/// Reads the current time.
public protocol Clock: Sendable {
    /// Wall-clock Unix seconds (token expiry).
    var unixTime: UnixTime { get }
    /// Wall-clock time with nanoseconds (the node roster's `started_at` and `seen_at`).
    var wallTime: WallTime { get }
    /// Monotonic time (TTLs, deadlines, uptime).
    var monotonic: MonotonicTime { get }
}
