// What speaks on the connections of one listener, and what must hear about shutdown.

/// The protocol logic of one connection. Called only on the connection's loop.
public protocol ConnectionHandler: AnyObject {
    /// Bytes arrived. They live in the loop's read buffer: valid only during this call.
    func received(_ bytes: UnsafeRawBufferPointer, on connection: Connection)
    /// The connection is closed (by either side); release what refers to it.
    func connectionClosed(_ connection: Connection)
    /// Whether bytes that arrive after the connection began closing still reach `received`
    /// (a WebSocket awaiting the peer's close frame); otherwise they are discarded.
    var readsWhileClosing: Bool { get }
}

extension ConnectionHandler {
    public var readsWhileClosing: Bool { false }
}

/// Something a connection holds while it is open, given back when it closes.
public protocol ConnectionLease: AnyObject {
    func release()
}

/// Something on one loop that holds connections and must hear about shutdown.
public protocol Drainable: AnyObject {
    /// Shutdown has begun: stop taking new work and start closing gracefully.
    func drain()
    /// Closes every connection now (the drain deadline passed).
    func closeAll()
    /// Connections this transport still holds open on its loop.
    var openConnectionCount: Int { get }
}

/// Accepts the connections of a listener on one loop. One instance per (listener, loop); the
/// public listener's is HTTP/1.1 with the router, which the browser transports add routes to.
public protocol Transport: Drainable {
    /// A connection was accepted on this transport's loop; set `connection.handler`.
    func accepted(_ connection: Connection)
}
