// Use case: a transport publishes on a topic of its own namespace (a Pusher channel).
public import Domain

/// Publishes to every subscriber of a namespaced topic, on every node. Such topics are not
/// registered: a channel exists while somebody subscribes to it, so there is nothing to check
/// but the namespace.
public struct BroadcastEvent: Sendable {
    let bus: any ClusterBus

    public init(bus: any ClusterBus) {
        self.bus = bus
    }

    /// Publishes `payload` on `topic`, skipping the connection `excludedSocket` names.
    public func callAsFunction(topic: TopicName, payload: JSONPayload, excludedSocket: String? = nil) {
        precondition(topic.isNamespaced, "registered topics are published through PublishEvent")
        bus.publish(PublishedEvent(topic: topic, payload: payload, excludedSocket: excludedSocket))
    }
}
