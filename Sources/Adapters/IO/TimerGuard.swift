// What a timer closure holds instead of a weak reference to its owner.

/// A weak reference gives its object a side table, after which every retain and release of that
/// object takes the runtime's slow path: 35 % of the user-space instructions per push
/// (bench/instructions.py). So an owner keeps a guard, marks it in `deinit`, and names it as
/// the owner of its timers; the loop runs such a timer only while the guard says the owner
/// lives, so the timer's closure holds the owner `unowned(unsafe)`. Confined to the owner's
/// loop, like the timers.
public final class TimerGuard {
    public init() {}

    public private(set) var ownerIsGone = false

    public func ownerDeinitialized() {
        ownerIsGone = true
    }
}
