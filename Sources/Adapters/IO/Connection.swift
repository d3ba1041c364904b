// One accepted TCP connection on one loop: reads into the loop's buffer, writes queued frames.
public import Domain
internal import Glibc
internal import CLinux

/// A non-blocking TCP connection confined to one loop.
///
/// Writes go to the socket in the loop's before-sleep flush; what the socket cannot take waits in
/// a bounded `WriteQueue` and `EPOLLOUT` is armed only while that backlog exists
/// (docs/development.md "Write first, arm EPOLLOUT later").
public final class Connection: LoopHandler, Flushable {
    /// How long a closing connection waits for the peer's FIN after our last byte, discarding
    /// input, so the peer reads our final response instead of a reset.
    public static let defaultLingerTimeout: Duration = .seconds(2)
    /// Bytes written to one socket per turn before others get their turn.
    static let writeBudgetPerTurn = 1 << 20
    /// Reads per readable event before other sockets get their turn.
    static let readsPerEvent = 4

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
    public private(set) var state: State = .open

    /// Flushes that ended with bytes left over (the socket was full); a slow-reader signal.
    public private(set) var stalledFlushes = 0

    private var queue = WriteQueue()
    /// io_uring only: a multishot receive is armed; a send is in flight, covering this many
    /// frames from the head of the queue and asking for this many bytes; the submission batch
    /// that last took an entry of ours (see `close`).
    var receiving = false
    private var sendInFlight: (bytes: Int, frames: Int, quiet: Bool)?
    /// Sends go quietly (UringQuietSend.swift) until one falls short; then the next waits in the
    /// kernel for room, and once one went whole they are quiet again.
    private var sendsQuietly = true
    /// Counts this connection's quiet sends, so a record of one that ended cannot end the next.
    private(set) var quietSendNumber: UInt32 = 0
    private var preparedInBatch: UInt64 = .max
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
    public var queuedFrames: Int { queue.frameCount }
    public var queuedBytes: Int { queue.byteCount }

    // MARK: - Output

    /// Queues `frame`; false when the queue is full (the caller decides: 1013, or close).
    @discardableResult
    public func send(_ frame: EncodedFrame) -> Bool {
        guard state == .open || state == .closingAfterFlush else { return false }
        guard queue.append(frame, limits: limits) else { return false }
        scheduleFlush()
        return true
    }

    /// Drops queued frames that have not started going out (see `WriteQueue.removeUnstarted`);
    /// those a send in flight reads count as started.
    public func discardUnstartedFrames() {
        queue.removeUnstarted(keepingFirst: sendInFlight?.frames ?? 0)
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

    private func scheduleFlush() {
        // Behind a quiet send not yet settled, the flush can only start once it is: the loop
        // must not sleep until then (UringQuietSend.swift).
        if sendInFlight?.quiet == true { loop.socketIO?.quietSendFollowUp = true }
        guard !isDirty else { return }
        isDirty = true
        loop.markDirty(self, early: flushesEarly)
    }

    public func flush(on loop: EventLoop) {
        isDirty = false
        guard state == .open || state == .closingAfterFlush else { return }
        if let io = loop.socketIO {
            submitSend(io)
            return
        }
        var writtenThisTurn = 0
        while !queue.isEmpty && writtenThisTurn < Self.writeBudgetPerTurn {
            let entries = queue.gather(
                into: UnsafeMutableRawPointer(loop.iovecs).assumingMemoryBound(to: IOVector.self),
                capacity: EventLoop.iovecCapacity, budget: Self.writeBudgetPerTurn - writtenThisTurn)
            var message = msghdr()
            message.msg_iov = loop.iovecs
            message.msg_iovlen = entries
            let result: IOResult<Int>
            do {
                // sendmsg rather than writev: MSG_NOSIGNAL, so a vanished peer is EPIPE, not SIGPIPE.
                result = try Syscall.call("sendmsg", { sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL)) })
            } catch {
                close()
                return
            }
            guard case .processed(let written) = result else { break }
            queue.consume(written)
            writtenThisTurn += written
            loop.metrics.bytesSent &+= written
        }
        if queue.isEmpty {
            if state == .closingAfterFlush {
                flushedBeforeClose()
            } else {
                setWritableInterest(false)
            }
        } else {
            stalledFlushes += 1
            setWritableInterest(true)
        }
    }

    private func setWritableInterest(_ wanted: Bool) {
        let current = loop.interest(of: descriptor)
        let desired: PollerInterest = wanted ? current.union(.writable) : current.subtracting(.writable)
        do { try loop.setInterest(descriptor, desired) } catch { close() }
    }

    // MARK: - Input

    public func readable(on loop: EventLoop) {
        for _ in 0..<Self.readsPerEvent {
            guard state == .open || state == .lingering else { return }
            let buffer = loop.readBuffer
            let result: IOResult<Int>
            do {
                result = try Syscall.call("read", { Glibc.read(descriptor, buffer.baseAddress, buffer.count) })
            } catch {
                close()  // ECONNRESET and friends: nothing to answer.
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                close()
                return
            case .processed(let count):
                loop.metrics.bytesReceived &+= count
                if state == .open || handler?.readsWhileClosing == true {
                    handler?.received(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), on: self)
                }
                if count < buffer.count { return }
            }
        }
    }

    public func writable(on loop: EventLoop) {
        flush(on: loop)
    }

    public func hangup(on loop: EventLoop) {
        close()
    }

    // MARK: - Closing

    private func flushedBeforeClose() {
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
        // Through io_uring the receive is armed already.
        if loop.socketIO == nil {
            do { try loop.setInterest(descriptor, .readable) } catch {
                close()
                return
            }
        }
        loop.schedule(afterSharedDelay: lingerTimeout) { [weak self] _ in self?.close() }
    }

    /// Closes now, dropping anything unsent. Idempotent.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        loop.deregisterForClose(descriptor)
        if let io = loop.socketIO {
            if receiving { io.cancel(self, .receive) }
            // A quiet send is never left waiting in the kernel: there is nothing to cancel, and
            // the frames it covered go once it is settled.
            if let send = sendInFlight {
                if send.quiet { io.quietSendFollowUp = true } else { io.cancel(self, .send) }
            }
            // An entry of ours not submitted yet names the descriptor by number: submitted after
            // the close, it would run on the next socket to get that number.
            if preparedInBatch == io.batch { io.submitNow() }
        }
        Syscall.close(descriptor)
        // A send in flight still reads the queue's frames; its completion lets go of them.
        if sendInFlight == nil { queue.removeAll() }
        budget?.release()
        lease?.release()
        lease = nil
        let handler = self.handler
        self.handler = nil  // Break the handler ↔ connection cycle.
        handler?.connectionClosed(self)
    }
}

// MARK: - Through io_uring (docs/adr/0014 "Who owns a buffer")

extension Connection {
    /// A send is in the kernel (io_uring only).
    var hasSendInFlight: Bool { sendInFlight != nil }

    /// Arms the receive of a connection whose I/O completes through `io`.
    func startReceiving(_ io: UringPoller) {
        io.startReceiving(self)
        receiving = true
        preparedInBatch = io.batch
    }

    /// One send in flight at a time: the next starts from the completion of this one.
    fileprivate func submitSend(_ io: UringPoller) {
        guard sendInFlight == nil else { return }
        guard !queue.isEmpty else {
            if state == .closingAfterFlush { flushedBeforeClose() }
            return
        }
        let quiet = sendsQuietly && io.sendsQuietly
        if quiet { quietSendNumber &+= 1 }
        let (bytes, frames) = io.send(self, quietly: quiet) { vectors, capacity in
            self.queue.gatherFrames(into: vectors, capacity: capacity, budget: Self.writeBudgetPerTurn)
        }
        sendInFlight = (bytes, frames, quiet)
        preparedInBatch = io.batch
        if quiet && (queue.frameCount > frames || state == .closingAfterFlush) { io.quietSendFollowUp = true }
    }

    /// The quiet send `number` posted nothing: the socket took all of it. False when that send
    /// had fallen short instead.
    func quietSendWentWhole(_ number: UInt32) -> Bool {
        guard hasQuietSendInFlight(number), let send = sendInFlight else { return false }
        sendCompleted(Int32(send.bytes))
        return true
    }

    /// The quiet send `number` is not settled yet.
    func hasQuietSendInFlight(_ number: UInt32) -> Bool {
        sendInFlight?.quiet == true && number == quietSendNumber
    }

    /// The current quiet send took only part, or none (-EAGAIN), or failed: the rest goes with a
    /// send that waits for room.
    func quietSendFellShort(_ result: Int32) {
        guard sendInFlight?.quiet == true else { return }
        sendsQuietly = false
        sendCompleted(result == -EAGAIN ? 0 : result)
    }

    /// Data (a buffer lent until this returns), the end of the stream (0), or an error.
    func receiveCompleted(_ result: Int32, _ bytes: UnsafeRawBufferPointer, more: Bool) {
        if !more { receiving = false }
        // A closed connection's receive ends with -ECANCELED (its close cancelled it) or with
        // whatever had completed meanwhile; either way nobody reads it.
        guard state == .open || state == .lingering || state == .closingAfterFlush else { return }
        switch result {
        case 1...:
            loop.metrics.bytesReceived &+= Int(result)
            if state == .open || handler?.readsWhileClosing == true { handler?.received(bytes, on: self) }
        case -ENOBUFS:
            // The kernel ends a multishot receive when the buffer ring ran dry: the data waits
            // in the socket, and the receive is armed again once this batch gave buffers back.
            loop.socketIO?.receiveBufferShortages += 1
        default:
            close()  // The peer's FIN (0), or a reset and friends: nothing to answer.
            return
        }
        if !receiving && state != .closed, let io = loop.socketIO { startReceiving(io) }
    }

    func sendCompleted(_ result: Int32) {
        let asked = sendInFlight
        sendInFlight = nil
        guard state != .closed else {
            if result > 0 { loop.metrics.bytesSent &+= Int(result) }
            queue.removeAll()
            return
        }
        guard result >= 0, let asked else {
            close()  // EPIPE, ECONNRESET: the peer is gone.
            return
        }
        queue.consume(Int(result))
        loop.metrics.bytesSent &+= Int(result)
        if Int(result) < asked.bytes { stalledFlushes += 1 } else if !asked.quiet { sendsQuietly = true }
        if !queue.isEmpty || state == .closingAfterFlush { scheduleFlush() }
    }
}
