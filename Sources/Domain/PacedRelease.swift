// Spreading a number of endings evenly over a number of ticks.

/// How many of `total` items are due once `tick` of `ticks` ticks have passed: `total * tick /
/// ticks`, rounded down, and all of them at the last tick. Fewer items than ticks come out one
/// every few ticks, so they too spread over the whole span instead of crowding its start.
public struct PacedRelease: Sendable, Equatable {
    public let total: Int
    public let ticks: Int

    public init(total: Int, ticks: Int) {
        self.total = max(0, total)
        self.ticks = max(1, ticks)
    }

    public func due(afterTick tick: Int) -> Int {
        tick >= ticks ? total : total * max(0, tick) / ticks
    }
}
