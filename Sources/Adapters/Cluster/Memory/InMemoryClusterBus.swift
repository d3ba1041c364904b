// Adapter: the single-node bus; every publish is delivered locally and goes nowhere else.
public import Application
public import Domain
internal import Synchronization

/// A bus for one node: `publish` delivers straight to the local sink, and node messages go
/// nowhere (there is nobody to hear them). Topics with history get their positions here.
public final class InMemoryClusterBus: ClusterBus, NodeMessenger {
    private let sink: any SubscriberSink
    private let history: HistoryRules
    /// Held across the delivery of a history topic's message, so that positions reach every
    /// loop in the order they were given even when two threads publish at once.
    private let positions: Mutex<PositionCounter>
    /// The epoch of every position this node gives (one per process).
    public let epoch: UInt64

    public init(sink: any SubscriberSink, history: HistoryRules = HistoryRules()) {
        self.sink = sink
        self.history = history
        let counter = PositionCounter()
        epoch = counter.epoch
        positions = Mutex(counter)
    }

    public func publish(_ event: PublishedEvent) {
        guard history.rule(for: event.topic) != nil else {
            sink.deliver(event)
            return
        }
        positions.withLock { counter in
            sink.deliver(event.at(counter.next(event.topic)))
        }
    }

    public func send(_ message: ReplicaMessage) {}

    public func listen(_ listener: any NodeMessageListener) {}

    public var nodeCount: Int? { nil }

    public var health: ClusterHealth? { nil }

    public func start() throws {}

    public func shutdown() {}
}
