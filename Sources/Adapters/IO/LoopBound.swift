// Carries a loop-confined value to its own loop through a Sendable closure.

/// A value that belongs to one event loop, carried across threads only to be used on that loop.
///
/// The compiler cannot see loop confinement, so this box tells it the value may travel: whoever
/// wraps a value promises that only the owning loop (inside `EventLoop.execute`, or a callback
/// that ends on it) reads `value`.
public struct LoopBound<Value>: @unchecked Sendable {
    public let value: Value

    public init(_ value: Value) {
        self.value = value
    }
}
