// The two kinds of time the core reasons about.

/// Wall-clock time in whole Unix seconds; token expiry is expressed in it.
public struct UnixTime: Hashable, Comparable, Sendable {
    public var seconds: Int64

    public init(seconds: Int64) {
        self.seconds = seconds
    }

    public static func < (lhs: UnixTime, rhs: UnixTime) -> Bool { lhs.seconds < rhs.seconds }

    /// The expiry of what never expires (a subscription without a token).
    public static let never = UnixTime(seconds: .max)
}

/// A reading of a monotonic clock. TTLs, deadlines and uptime use it, so a wall-clock step
/// can neither expire a topic early nor keep it forever.
public struct MonotonicTime: Hashable, Comparable, Sendable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    public static func < (lhs: MonotonicTime, rhs: MonotonicTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `self` moved forward by `duration`, saturating instead of overflowing.
    public func advanced(by duration: Duration) -> MonotonicTime {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(duration.wholeNanoseconds)
        return MonotonicTime(nanoseconds: overflow ? .max : sum)
    }

    /// The time elapsed from `earlier` to `self` (zero if `earlier` is later).
    public func duration(since earlier: MonotonicTime) -> Duration {
        .nanoseconds(max(0, nanoseconds - earlier.nanoseconds))
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64.max`.
    public var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? .max : sum
    }

    /// The duration in whole seconds, rounded down.
    public var wholeSeconds: Int64 { components.seconds }
}
