// Adapter: the single-node bus; every publish is delivered locally and goes nowhere else.
public import Application

/// A bus for one node: `publish` delivers straight to the local sink.
public final class InMemoryClusterBus: ClusterBus {
    private let sink: any SubscriberSink

    public init(sink: any SubscriberSink) {
        self.sink = sink
    }

    public func publish(_ event: PublishedEvent) {
        sink.deliver(event)
    }

    public var nodeCount: Int? { nil }

    public var health: ClusterHealth? { nil }

    public func start() throws {}

    public func shutdown() {}
}
