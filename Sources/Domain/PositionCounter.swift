// Positions for a node alone: one epoch per process, one counter per topic with history.

/// Hands out the next position of a topic. The epoch is chosen once (at random, so a restarted
/// node never continues an old count by accident); offsets start at 1. A value; its owner
/// serialises `next` with the delivery that follows it, so positions arrive in order.
public struct PositionCounter: Sendable {
    public let epoch: UInt64
    private var offsets: [TopicName: UInt64] = [:]

    public init(epoch: UInt64 = .random(in: 1...UInt64.max)) {
        self.epoch = epoch
    }

    public mutating func next(_ topic: TopicName) -> StreamPosition {
        let offset = (offsets[topic] ?? 0) &+ 1
        offsets[topic] = offset
        return StreamPosition(epoch: epoch, offset: offset)
    }
}
