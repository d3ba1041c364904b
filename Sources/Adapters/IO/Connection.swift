// One accepted TCP connection on one loop: reads into the loop's buffer, writes queued frames.
public import Domain
internal import Glibc

/// A non-blocking TCP connection confined to one loop.
///
/// Writes go to the socket in the loop's before-sleep flush; what the socket cannot take waits in
/// a bounded `WriteQueue` and `EPOLLOUT` is armed only while that backlog exists
/// (docs/development.md "Write first, arm EPOLLOUT later").
public final class Connection: Flushable {
    /// How long a closing connection waits for the peer's FIN after our last byte, discarding
    /// input, so the peer reads our final response instead of a reset.
    public static let defaultLingerTimeout: Duration = .seconds(2)
    /// Bytes written to one socket per turn before others get their turn.
    static let writeBudgetPerTurn = 1 << 20

    public enum State: Equatable {
        case open
        /// No more input is processed; close once the queue is written.
        case closingAfterFlush
        /// Our side is shut down; waiting for the peer's FIN or the linger deadline.
        case lingering
        case closed
    }

    public let descriptor: Int32
    /// Unique within the process: the loop index in the low byte.
    public let id: UInt64
    /// The peer's IP address as text (no port).
    public let peerHost: String
    // unowned(unsafe): a loop outlives its connections, and a checked unowned reference cost a
    // strong retain and release on every access, once per push.
    public unowned(unsafe) let loop: EventLoop
    public var handler: (any ConnectionHandler)?
    public internal(set) var state: State = .open

    /// Flushes that ended with bytes left over (the socket was full); a slow-reader signal.
    public internal(set) var stalledFlushes = 0

    /// What waits to be written; read and consumed by the socket I/O.
    var queue = WriteQueue()
    /// What the socket I/O keeps for this connection, if it keeps anything (the operations
    /// io_uring has in the kernel for it); only the socket I/O reads it.
    var socketState: AnyObject?
    /// TLS between the handlers and the socket I/O, on a TLS port: `queue` then holds records,
    /// and what `send` queues waits in the session as plaintext until it is encrypted.
    var tls: TLSSession?
    private let limits: WriteQueue.Limits
    /// `defaultLingerTimeout` unless a test needs a deadline that cannot end a case by itself.
    let lingerTimeout: Duration
    private var isDirty = false
    private var lingersAfterFlush = true
    private let budget: ConnectionBudget?
    /// Accepted beyond `max_connections`, only to be told so: a browser handshake on it is
    /// answered 503 instead of being reset, and a health probe is still served.
    public let isOverBudget: Bool
    /// What the connection holds while it is open (a per-address slot); released on close.
    public var lease: (any ConnectionLease)?

    init(
        descriptor: Int32, id: UInt64, peerHost: String, loop: EventLoop, limits: WriteQueue.Limits, budget: ConnectionBudget?,
        isOverBudget: Bool = false, lingerTimeout: Duration = Connection.defaultLingerTimeout
    ) {
        self.lingerTimeout = lingerTimeout
        self.descriptor = descriptor
        self.id = id
        self.peerHost = peerHost
        self.loop = loop
        self.limits = limits
        self.budget = budget
        self.isOverBudget = isOverBudget
    }

    /// Frames waiting to be written.
    /// What its queue may hold before it counts as too slow.
    public var queueLimit: (frames: Int, bytes: Int) { (limits.maxFrames, limits.maxBytes) }

    public var queuedFrames: Int { queue.frameCount + (tls?.plaintext.frameCount ?? 0) }
    public var queuedBytes: Int { queue.byteCount + (tls?.plaintext.byteCount ?? 0) }

    /// Anything left to write: records or frames, or plaintext not yet encrypted.
    var hasOutput: Bool { !queue.isEmpty || tls?.plaintext.isEmpty == false }

    // MARK: - Output

    /// Queues `frame`; false when the queue is full (the caller decides: 1013, or close).
    @discardableResult
    public func send(_ frame: EncodedFrame) -> Bool {
        guard state == .open || state == .closingAfterFlush else { return false }
        if let tls {
            guard tls.plaintext.append(frame, limits: limits) else { return false }
        } else {
            guard queue.append(frame, limits: limits) else { return false }
        }
        scheduleFlush()
        return true
    }

    /// What `sendLatest` did.
    public enum LatestSend {
        /// Queued behind the rest.
        case queued
        /// Put in the place of the previous push, which had not started going out.
        case replaced
        /// The queue is full (or the connection closing): the caller decides, as for `send`.
        case full
    }

    /// Queues `frame` as the newest value of a latest-value topic: it takes the place of
    /// `previous` (the last push queued for that topic) while that one has not started going
    /// out, so at most one such push waits. `previous` becomes `frame` either way.
    public func sendLatest(_ frame: EncodedFrame, replacing previous: inout EncodedFrame?) -> LatestSend {
        // Closing, its queue ends in a close frame: nothing more goes in.
        guard state == .open else { return .full }
        defer { previous = frame }
        if let tls {
            if let old = previous, tls.plaintext.replace(old, with: frame) { return .replaced }
            guard tls.plaintext.append(frame, limits: limits) else { return .full }
        } else {
            if let old = previous, queue.replace(old, with: frame, keepingFirst: loop.socketIO.framesInFlight(self)) { return .replaced }
            guard queue.append(frame, limits: limits) else { return .full }
        }
        scheduleFlush()
        return .queued
    }

    /// Drops queued frames that have not started going out (see `WriteQueue.removeUnstarted`);
    /// those a send in flight reads count as started.
    public func discardUnstartedFrames() {
        // Records cannot be dropped (the peer's decryption would fail); plaintext can.
        if let tls {
            tls.plaintext.removeAll()
            return
        }
        queue.removeUnstarted(keepingFirst: loop.socketIO.framesInFlight(self))
    }

    /// Stops reading and closes once everything queued is written, or after `lingerTimeout`
    /// when the peer does not read.
    ///
    /// Lingering (shutting down our side and closing on the peer's FIN) keeps a peer that is
    /// still sending from getting a reset that would destroy the answer before it read it.
    /// A peer that said it sends nothing more (an HTTP request with `Connection: close`, read to
    /// its end) is closed at once, as nginx does, unless bytes from it wait unread after all: a
    /// wake-up and a system call fewer per connection (docs/adr/0016).
    public func closeAfterFlush(lingering: Bool = true) {
        guard state == .open else { return }
        state = .closingAfterFlush
        lingersAfterFlush = lingering
        scheduleFlush()
        loop.schedule(afterSharedDelay: lingerTimeout) { [weak self] _ in
            guard let self, self.state == .closingAfterFlush else { return }
            self.close()
        }
    }

    /// The peer sends nothing more (it finished a close handshake): close as soon as everything
    /// queued is written, without lingering for its FIN.
    public func closeWithoutLingering() {
        switch state {
        case .open: closeAfterFlush(lingering: false)
        case .closingAfterFlush: lingersAfterFlush = false
        case .lingering: close()
        case .closed: break
        }
    }

    /// Flushed before the other connections of a turn: HTTP answers go out before the pushes
    /// a publish fanned out, so the backend hears back sooner and its next publish joins the
    /// same turn as the one after it (two frames per write instead of one).
    public var flushesEarly = false

    func scheduleFlush() {
        guard !isDirty else { return }
        isDirty = true
        loop.markDirty(self, early: flushesEarly)
    }

    public func flush(on loop: EventLoop) {
        isDirty = false
        guard state == .open || state == .closingAfterFlush else { return }
        if let tls { tls.encryptPending(self) }
        loop.socketIO.flush(self)
        // Records went out and plaintext waits (more than a turn's budget was queued).
        if let tls, tls.phase == .established, queue.isEmpty, !tls.plaintext.isEmpty, state == .open { scheduleFlush() }
    }

    /// The socket took `count` bytes from the head of the queue.
    func sent(_ count: Int) {
        queue.consume(count)
        loop.metrics.bytesSent &+= count
    }

    /// The queue went out whole: a closing connection closes (or lingers) now.
    func queueDrained() {
        if state == .closingAfterFlush { flushedBeforeClose() }
    }

    // MARK: - Input

    /// Bytes from the peer, valid only during this call.
    func received(_ bytes: UnsafeRawBufferPointer) {
        loop.metrics.bytesReceived &+= bytes.count
        guard acceptsInput else { return }
        if let tls {
            tls.received(bytes, by: self)
        } else {
            handler?.received(bytes, on: self)
        }
    }

    /// Whether the handler still takes input: before the close, or while it awaits the peer's
    /// close frame.
    var acceptsInput: Bool { state == .open || handler?.readsWhileClosing == true }

    /// Plaintext for the handler, valid only during this call.
    func deliver(_ bytes: UnsafeRawBufferPointer) {
        handler?.received(bytes, on: self)
    }

    /// Whether input still matters: before the close, or while waiting for the peer's FIN.
    var isReading: Bool { state == .open || state == .lingering }

    // MARK: - Closing

    func flushedBeforeClose() {
        if lingersAfterFlush || hasUnreadInput { startLingering() } else { close() }
    }

    /// Bytes wait in the socket (reading stopped with the close, or they arrived since): a close
    /// now would answer them with a reset, and the reset would destroy the answer in the
    /// client's receive queue.
    private var hasUnreadInput: Bool {
        var byte: UInt8 = 0
        return Glibc.recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    private func startLingering() {
        state = .lingering
        shutdown(descriptor, Int32(SHUT_WR))
        do { try loop.socketIO.awaitPeerClose(self) } catch {
            close()
            return
        }
        loop.schedule(afterSharedDelay: lingerTimeout) { [weak self] _ in self?.close() }
    }

    /// Closes now, dropping anything unsent. Idempotent.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        loop.deregisterForClose(descriptor)
        let kernelReadsQueue = loop.socketIO.detach(self)
        Syscall.close(descriptor)
        // A send in flight still reads the queue's frames; its completion lets go of them.
        if !kernelReadsQueue { queue.removeAll() }
        tls?.connectionClosed(self)
        budget?.release()
        lease?.release()
        lease = nil
        let handler = self.handler
        self.handler = nil  // Break the handler ↔ connection cycle.
        handler?.connectionClosed(self)
    }
}
