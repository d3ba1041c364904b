// One open event stream: a subscriber whose connection only ever receives.
public import Domain
internal import Logging

/// A subscribed `EventSource` connection after the response head. Confined to its loop.
///
/// It owns no buffer: the engine writes shared events to its connection, and whatever the client
/// sends after its request is read into the loop's buffer and dropped.
final class SSEStream: Subscriber, ConnectionHandler, UpgradedConnectionHandler {
    /// Strong: a route lives as long as its loop; the stream must never outlive its reach.
    private let route: SSERoute

    init(connection: Connection, topic: TopicName, clientIP: String, route: SSERoute) {
        self.route = route
        super.init(connection: connection, format: route.transport.format, topic: topic, clientIP: clientIP)
    }

    override var transportName: String { SSETransport.name }

    /// What the stream gets after its head and before any live push; set as it subscribes,
    /// written (in the same turn) once the head is queued, then dropped.
    var resumption: Resumption?

    func upgraded(_ connection: Connection, pending: UnsafeRawBufferPointer) {
        guard let resumption else { return }
        self.resumption = nil
        let frames = route.transport.frames
        switch resumption {
        case .fresh(nil): break
        case .fresh(let current?): route.context.shard.send(frames.position(current), to: self)
        case .recovered(_, let missed): route.context.shard.sendMissed(missed, in: format, to: self)
        case .resync(let current): route.context.shard.send(frames.resync(current), to: self)
        }
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: Connection) {}

    func connectionClosed(_ connection: Connection) {
        route.streamEnded(self)
        route.context.shard.remove(self)
    }

    /// A stream's first frame is its response head, queued in the same turn as any push that can
    /// overflow the queue; dropping unstarted frames could drop the head and leave the browser
    /// without an answer. So nothing is dropped: what is queued (within the bound) is written,
    /// then the stream ends.
    override func tooSlow() {
        connection.closeAfterFlush()
    }

    override func tokenExpired() {
        route.context.logger.debug("client token expired", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)", "transport": "sse"])
        connection.send(route.transport.frames.authExpired)
        connection.closeAfterFlush()
    }
}
