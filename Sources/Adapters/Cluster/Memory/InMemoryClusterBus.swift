// Adapter: the single-node bus; every publish is delivered locally and goes nowhere else.
public import Application
public import Domain

/// A bus for one node: `publish` delivers straight to the local sink, and node messages go
/// nowhere (there is nobody to hear them).
public final class InMemoryClusterBus: ClusterBus, NodeMessenger {
    private let sink: any SubscriberSink

    public init(sink: any SubscriberSink) {
        self.sink = sink
    }

    public func publish(_ event: PublishedEvent) {
        sink.deliver(event)
    }

    public func send(_ message: ReplicaMessage) {}

    public func listen(_ listener: any NodeMessageListener) {}

    public var nodeCount: Int? { nil }

    public var health: ClusterHealth? { nil }

    public func start() throws {}

    public func shutdown() {}
}
