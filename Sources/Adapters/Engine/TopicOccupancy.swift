// Where a loop tells that a Wavelog topic has subscribers on it, or none any more.
public import Domain

/// Told by each loop's shard, on the loop, when a Wavelog topic gets its first subscriber there
/// and loses its last: the node adds the loops up, the cluster adds up the nodes. Must not block.
public protocol TopicOccupancy: AnyObject, Sendable {
    func topicOccupied(_ topic: TopicName)
    func topicVacated(_ topic: TopicName)
}
