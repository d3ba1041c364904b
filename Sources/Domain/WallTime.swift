// A wall-clock instant with nanoseconds and the UTC offset it was written with.

/// An instant on the wall clock: seconds and nanoseconds since the Unix epoch, and the UTC
/// offset its text carried, so a time read from another node is written back as it came.
///
/// Seconds, not one nanosecond count: Go's zero time (year 1) must be representable, since an
/// entry that lacks a time reads as it.
public struct WallTime: Hashable, Sendable {
    public var seconds: Int64
    /// 0..<1_000_000_000.
    public var nanoseconds: Int32
    /// The offset from UTC, in seconds east, that the time is shown in.
    public var utcOffsetSeconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0, utcOffsetSeconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// The time elapsed from `earlier` to `self`; negative when `earlier` is later.
    public func duration(since earlier: WallTime) -> Duration {
        .seconds(seconds &- earlier.seconds) + .nanoseconds(Int64(nanoseconds) - Int64(earlier.nanoseconds))
    }

    /// `self` moved by `duration` (which may be negative), keeping the offset.
    public func advanced(by duration: Duration) -> WallTime {
        let (wholeSeconds, attoseconds) = duration.components
        var total = Int64(nanoseconds) + attoseconds / 1_000_000_000
        var secs = seconds &+ wholeSeconds
        if total < 0 {
            total += 1_000_000_000
            secs &-= 1
        } else if total >= 1_000_000_000 {
            total -= 1_000_000_000
            secs &+= 1
        }
        return WallTime(seconds: secs, nanoseconds: Int32(total), utcOffsetSeconds: utcOffsetSeconds)
    }

    /// Whether both name the same instant, whatever their offsets.
    public func isSameInstant(as other: WallTime) -> Bool {
        seconds == other.seconds && nanoseconds == other.nanoseconds
    }
}
