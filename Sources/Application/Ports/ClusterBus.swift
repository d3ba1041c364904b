// Port: carries published events to every node, including this one.
public import Domain

/// An event as it travels: the topic and the payload's JSON bytes, exactly as published.
public struct PublishedEvent: Sendable, Equatable {
    public let topic: TopicName
    public let payload: JSONPayload
    /// A transport's identifier of one connection that must not receive the event (the
    /// sender's own socket), on whichever node it is.
    public let excludedSocket: String?
    /// Its place in the topic's stream, for a topic with history; given by the bus, the same
    /// on every node. Nil for every other topic, and for a history topic's message that could
    /// not get one (it came from a node that knows no history, or the cluster link was down).
    public let position: StreamPosition?

    public init(topic: TopicName, payload: JSONPayload, excludedSocket: String? = nil, position: StreamPosition? = nil) {
        self.topic = topic
        self.payload = payload
        self.excludedSocket = excludedSocket
        self.position = position
    }

    /// The same event at `position`.
    public func at(_ position: StreamPosition?) -> PublishedEvent {
        PublishedEvent(topic: topic, payload: payload, excludedSocket: excludedSocket, position: position)
    }
}

/// Carries published events to every node, including this one.
///
/// Implementations deliver to local subscribers through their `SubscriberSink` exactly once per
/// event, first, whether or not the event also went through a remote broker.
public protocol ClusterBus: LifecycleService {
    /// Hands `event` to the bus. Never blocks the calling loop.
    func publish(_ event: PublishedEvent)
    /// Number of nodes sharing the bus, or nil when running alone.
    var nodeCount: Int? { get }
    /// The link to the other nodes, or nil when running alone.
    var health: ClusterHealth? { get }
}

/// How the link to the other nodes is doing (extension fields of the status report).
public struct ClusterHealth: Sendable, Equatable {
    /// True while publishes reach the other nodes.
    public var connected: Bool
    /// Publishes delivered locally but not fanned out because the link was down.
    public var publishesNotFannedOut: Int
    /// Times a lost link to the other nodes was re-established.
    public var reconnects: Int

    public init(connected: Bool, publishesNotFannedOut: Int, reconnects: Int = 0) {
        self.connected = connected
        self.publishesNotFannedOut = publishesNotFannedOut
        self.reconnects = reconnects
    }
}
