// A clock the test moves by hand.
public import Application
public import Domain
import Synchronization

/// A `Clock` that only moves when told to.
public final class ManualClock: Clock {
    private let state: Mutex<(WallTime, MonotonicTime)>

    public init(unixSeconds: Int64 = 1_800_000_000, monotonicNanoseconds: Int64 = 1_000_000_000) {
        state = Mutex((WallTime(seconds: unixSeconds), MonotonicTime(nanoseconds: monotonicNanoseconds)))
    }

    public var unixTime: UnixTime { state.withLock { UnixTime(seconds: $0.0.seconds) } }
    public var wallTime: WallTime { state.withLock { $0.0 } }
    public var monotonic: MonotonicTime { state.withLock { $0.1 } }

    /// Moves both clocks forward.
    public func advance(by duration: Duration) {
        state.withLock { state in
            state.0 = state.0.advanced(by: duration)
            state.1 = state.1.advanced(by: duration)
        }
    }

    /// Steps the wall clock alone, as an NTP correction does; the monotonic clock stays.
    public func stepWallClock(by duration: Duration) {
        state.withLock { $0.0 = $0.0.advanced(by: duration) }
    }
}
