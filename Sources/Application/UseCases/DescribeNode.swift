// Use case: this node's own roster entry, as of now.
public import Domain

/// Describes this node: who it is and its current figures, stamped with the wall clock.
public struct DescribeNode: Sendable {
    public let identity: NodeIdentity
    let statistics: any SubscriptionStatisticsStore
    let clock: any Clock

    public init(identity: NodeIdentity, statistics: any SubscriptionStatisticsStore, clock: any Clock) {
        self.identity = identity
        self.statistics = statistics
        self.clock = clock
    }

    public func callAsFunction() -> NodeEntry {
        let counters = statistics.snapshot()
        return NodeEntry(
            identity: identity, seenAt: clock.wallTime, activeTopics: counters.activeTopicCount,
            connectedClients: counters.connectedClients, connectedSockets: counters.socketCount)
    }
}
