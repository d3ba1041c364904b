// Use case: is this topic registered? Asked by every transport before a subscription starts.
public import Domain

/// Resolves a topic for a subscriber that wants it: the local view first, then the shared store.
///
/// The local view answers from memory; only a topic it does not know (registered on another node
/// a moment ago, or before this node started) costs a round trip to the cluster store, and that
/// answer arrives later, on any thread, so no loop ever waits for it.
public struct ResolveTopic: Sendable {
    let topics: any TopicStore
    let clock: any Clock

    public init(topics: any TopicStore, clock: any Clock) {
        self.topics = topics
        self.clock = clock
    }

    /// The topic's meta from the local view, or nil when only the shared store can tell.
    public func locally(_ topic: TopicName) -> TopicMeta? {
        topics.lookup(topic, now: clock.monotonic)
    }

    /// Asks the shared store (after `locally` missed); `answer` runs once, on any thread, with nil
    /// when the topic is not registered anywhere.
    public func throughCluster(_ topic: TopicName, answer: @escaping @Sendable (TopicMeta?) -> Void) {
        topics.lookupThrough(topic, now: clock.monotonic, answer: answer)
    }
}
