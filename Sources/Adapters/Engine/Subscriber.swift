// One subscriber of a loop's shard: a connection and the wire format it reads.
public import Domain

/// A connection admitted to a `SubscriberShard`, with the wire format its pushes are written in.
///
/// A transport subclasses it for its session and overrides how the endings the engine decides
/// look on its wire (a close code, an SSE event, ...). Identity is the object. Confined to the
/// connection's loop.
open class Subscriber: Hashable {
    /// Strong, so a push costs no weak-reference load. The cycle through the connection's
    /// handler ends when the connection closes (it lets go of its handler), and the shard lets
    /// go of the subscriber in the same step.
    public let connection: Connection
    public let format: WireFormat
    public let topic: TopicName
    /// The client's address for logs (from `X-Forwarded-For` / `X-Real-IP` when present).
    public let clientIP: String
    /// Its last push of a latest-value topic (`Connection.sendLatest`), replaced by the next
    /// while it has not started going out. Holding it keeps one shared frame alive.
    public var latestPush: EncodedFrame?

    public init(connection: Connection, format: WireFormat, topic: TopicName, clientIP: String) {
        self.connection = connection
        self.format = format
        self.topic = topic
        self.clientIP = clientIP
    }

    /// The transport's name, for logs; computed, so it costs no storage per subscriber.
    open var transportName: String { "" }

    /// Whether its subscription is one of the Wavelog statistics (`/internal/status` sockets and
    /// clients); false for subscriptions made with `SubscriberShard.subscribeAuthorised`.
    open var isCountedInStatistics: Bool { true }

    /// Its queue overflowed; the shard has counted and logged it. Drop what was not started and close.
    open func tooSlow() {
        connection.discardUnstartedFrames()
        connection.closeAfterFlush()
    }

    /// Its token expired; it is already unsubscribed.
    open func tokenExpired() {
        connection.closeAfterFlush()
    }

    /// Shutdown has begun: end gracefully.
    open func goAway() {
        connection.closeAfterFlush()
    }

    /// Its turn in a paced drain: end so that the client reconnects (to another node) now.
    /// The same as `goAway` unless the transport has a word for "restart" (WebSocket's 1012).
    open func restart() {
        goAway()
    }

    public static func == (lhs: Subscriber, rhs: Subscriber) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// Names connections for exclusion: a transport whose events can skip their sender (Pusher's
/// `socket_id`) finds the connection of a name on one loop.
public protocol SocketDirectory: AnyObject {
    func connection(forSocket name: String) -> Connection?
}
