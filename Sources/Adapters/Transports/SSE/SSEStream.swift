// One open event stream: a subscriber whose connection only ever receives.
public import Domain
internal import Logging

/// A subscribed `EventSource` connection after the response head. Confined to its loop.
///
/// It owns no buffer: the engine writes shared events to its connection, and whatever the client
/// sends after its request is read into the loop's buffer and dropped.
final class SSEStream: Subscriber, ConnectionHandler, UpgradedConnectionHandler {
    private unowned let route: SSERoute

    init(connection: Connection, topic: TopicName, clientIP: String, route: SSERoute) {
        self.route = route
        super.init(connection: connection, format: route.transport.format, topic: topic, clientIP: clientIP)
    }

    override var transportName: String { SSETransport.name }

    func upgraded(_ connection: Connection, pending: UnsafeRawBufferPointer) {}

    func received(_ bytes: UnsafeRawBufferPointer, on connection: Connection) {}

    func connectionClosed(_ connection: Connection) {
        route.streamEnded(self)
        route.context.shard.remove(self)
    }

    override func tokenExpired() {
        route.context.logger.debug("client token expired", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)", "transport": "sse"])
        connection.send(route.transport.frames.authExpired)
        connection.closeAfterFlush()
    }
}
