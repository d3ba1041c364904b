// Use case: the node reports its state (/internal/status and the worker.status topic).
public import Domain

/// Builds a status snapshot from the topic store, the statistics and the bus.
public struct ReportStatus: Sendable {
    let topics: any TopicStore
    let statistics: any SubscriptionStatisticsStore
    let bus: any ClusterBus
    let clock: any Clock
    let startedAt: MonotonicTime
    let version: String
    let roster: (any ClusterRoster)?
    let describeNode: DescribeNode

    /// - Parameter roster: nil for a node alone, whose roster is itself.
    public init(
        topics: any TopicStore, statistics: any SubscriptionStatisticsStore, bus: any ClusterBus,
        clock: any Clock, startedAt: MonotonicTime, version: String, roster: (any ClusterRoster)?, describeNode: DescribeNode
    ) {
        self.roster = roster
        self.describeNode = describeNode
        self.topics = topics
        self.statistics = statistics
        self.bus = bus
        self.clock = clock
        self.startedAt = startedAt
        self.version = version
    }

    /// Whether the cluster link is up; nil for a node alone. Cheap: for readiness probes.
    public var clusterLinkUp: Bool? { bus.health?.connected }

    /// - Parameter includeTopicLists: false for `?topics=0` and for the `worker.status` topic.
    public func callAsFunction(includeTopicLists: Bool) -> StatusSnapshot {
        let now = clock.monotonic
        let registered = topics.liveTopics(now: now)
        let counters = statistics.snapshot()
        let health = bus.health
        var snapshot = StatusSnapshot(
            version: version,
            uptimeSeconds: now.duration(since: startedAt).wholeSeconds,
            registeredTopicCount: registered.count,
            activeTopicCount: counters.activeTopicCount,
            connectedClients: counters.connectedClients,
            connectedSockets: counters.socketCount,
            registeredTopics: includeTopicLists ? registered : nil,
            activeTopics: includeTopicLists ? counters.activeTopics : nil,
            clusterNodes: bus.nodeCount ?? -1
        )
        snapshot.clusterConnected = health?.connected
        snapshot.clusterUnsent = health?.publishesNotFannedOut
        snapshot.clusterReconnects = health?.reconnects
        let wallNow = clock.wallTime
        let reading = roster == nil ? RosterReading(entries: [describeNode()], readAt: wallNow) : roster?.reading
        snapshot.nodes = reading.map { NodeRoster.standings(of: $0, at: wallNow) }
        return snapshot
    }
}
