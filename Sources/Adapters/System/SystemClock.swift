// Adapter: the operating system's clocks.
public import Application
public import Domain
internal import Glibc
internal import CLinux

/// `CLOCK_REALTIME` for token expiry, `CLOCK_MONOTONIC` for everything else.
public struct SystemClock: Clock {
    public init() {}

    public var unixTime: UnixTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UnixTime(seconds: Int64(spec.tv_sec))
    }

    public var wallTime: WallTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallTime(seconds: Int64(spec.tv_sec), nanoseconds: Int32(spec.tv_nsec))
    }

    public var monotonic: MonotonicTime {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return MonotonicTime(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}
