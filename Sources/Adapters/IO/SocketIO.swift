// The socket I/O port: what connections and listeners ask of the kernel, whichever way bytes
// move (readiness and system calls, or operations completed by io_uring). docs/adr/0020.

/// How one loop's listeners accept and its connections receive, send and close. Confined to the
/// loop's thread. `Connection` and `Listener` speak only to this; the poller port below it is
/// about readiness, which only one implementation uses for sockets.
///
/// TLS sits above this port, in the connection (`Connection.tls`): what a socket I/O sends and
/// receives for a TLS connection is its records, moved exactly as plain bytes (docs/adr/0021).
protocol SocketIO: AnyObject {
    /// Starts accepting on a bound, listening socket; accepted sockets go to `listener.admit`.
    func listen(_ listener: Listener) throws(SystemError)
    /// Stops accepting; the caller closes the descriptor right after.
    func stopListening(_ listener: Listener)

    /// Starts delivering an accepted connection's input to `connection.received`.
    func attach(_ connection: Connection) throws(SystemError)
    /// Writes what the connection's queue holds, within a turn's budget, and reports what went
    /// with `connection.sent`; ends with `connection.queueDrained()` once nothing is left.
    func flush(_ connection: Connection)
    /// Our side is shut down: keep delivering input until the peer's FIN.
    func awaitPeerClose(_ connection: Connection) throws(SystemError)
    /// Frames at the head of the queue the kernel may still read (a send in flight).
    func framesInFlight(_ connection: Connection) -> Int
    /// The connection closes: whatever it has in the kernel is ended. True when the kernel may
    /// still read its queued frames, so they must stay until it reports back.
    func detach(_ connection: Connection) -> Bool

    /// A turn begins, after the wait and the clock read, before any handler runs.
    func turnBegins()
    /// The poller's readiness events of the turn went to their handlers.
    func readinessDispatched()
}

/// A loop's poller and the socket I/O that goes with it.
struct LoopBackend {
    let poller: any Poller
    let socketIO: any SocketIO
}
