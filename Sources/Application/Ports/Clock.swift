// Port: the time, so that every use case can be tested with a manual clock.
public import Domain

/// Reads the current time.
public protocol Clock: Sendable {
    /// Wall-clock Unix seconds (token expiry).
    var unixTime: UnixTime { get }
    /// Monotonic time (TTLs, deadlines, uptime).
    var monotonic: MonotonicTime { get }
}
