// The figures `/internal/status` and the `worker.status` topic report.

/// One consistent reading of the node's state (docs/protocol.md "Status").
public struct StatusSnapshot: Sendable, Equatable {
    public var version: String
    public var uptimeSeconds: Int64
    public var registeredTopicCount: Int
    public var activeTopicCount: Int
    public var connectedClients: Int
    public var connectedSockets: Int
    /// nil when the caller asked to leave the lists out (`?topics=0`, or the status topic).
    public var registeredTopics: [TopicName]?
    public var activeTopics: [TopicName]?
    /// -1 without a cluster, as upstream reports.
    public var clusterNodes: Int
    /// Extension: whether the cluster link is up (nil without a cluster).
    public var clusterConnected: Bool?
    /// Extension: publishes not fanned out while the link was down (nil without a cluster).
    public var clusterUnsent: Int?
    /// Extension: times the cluster link came back after it was lost (nil without a cluster).
    public var clusterReconnects: Int?
    /// The cluster's nodes, sorted by name then id; this node alone without a cluster; nil
    /// when the roster cannot be read (upstream reports `null` then).
    public var nodes: [NodeStanding]?

    public init(
        version: String, uptimeSeconds: Int64, registeredTopicCount: Int, activeTopicCount: Int,
        connectedClients: Int, connectedSockets: Int, registeredTopics: [TopicName]?,
        activeTopics: [TopicName]?, clusterNodes: Int
    ) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.registeredTopicCount = registeredTopicCount
        self.activeTopicCount = activeTopicCount
        self.connectedClients = connectedClients
        self.connectedSockets = connectedSockets
        self.registeredTopics = registeredTopics
        self.activeTopics = activeTopics
        self.clusterNodes = clusterNodes
    }

    /// Uptime in Go's duration notation, as existing dashboards show it verbatim.
    public var uptime: String { GoDuration.format(seconds: uptimeSeconds) }
}
