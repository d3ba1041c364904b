// A transport that speaks HTTP/1.1 on every connection of a listener, on one loop.

/// Serves HTTP/1.1 with one responder; tracks its connections for graceful shutdown.
public final class HTTPTransport: Transport {
    private let responder: any HTTPResponder
    private var connections: [UInt64: (Connection, HTTPServerHandler)] = [:]
    private var draining = false
    private let timeouts: HTTPTimeouts

    public init(responder: any HTTPResponder, timeouts: HTTPTimeouts = .standard) {
        self.responder = responder
        self.timeouts = timeouts
    }

    public func accepted(_ connection: Connection) {
        let id = connection.id
        let handler = HTTPServerHandler(responder: responder, timeouts: timeouts) { [weak self] _ in
            self?.connections.removeValue(forKey: id)
        }
        connection.handler = handler
        connections[id] = (connection, handler)
        handler.start(connection)
        if draining { handler.drain(connection) }
    }

    public func drain() {
        draining = true
        for (connection, handler) in connections.values { handler.drain(connection) }
    }

    public func closeAll() {
        for (connection, _) in Array(connections.values) { connection.close() }
    }

    public var openConnectionCount: Int { connections.count }
}
