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
    static let lingerTimeout: Duration = .seconds(2)
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
    private let limits: WriteQueue.Limits
    private var isDirty = false
    private let budget: ConnectionBudget?
    /// Accepted beyond `max_connections`, only to be told so: a browser handshake on it is
    /// answered 503 instead of being reset, and a health probe is still served.
    public let isOverBudget: Bool
    /// What the connection holds while it is open (a per-address slot); released on close.
    public var lease: (any ConnectionLease)?

    init(
        descriptor: Int32, id: UInt64, peerHost: String, loop: EventLoop, limits: WriteQueue.Limits, budget: ConnectionBudget?,
        isOverBudget: Bool = false
    ) {
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

    /// Drops queued frames that have not started going out (see `WriteQueue.removeUnstarted`).
    public func discardUnstartedFrames() {
        queue.removeUnstarted()
    }

    /// Stops reading and closes once everything queued is written, or after `lingerTimeout`
    /// when the peer does not read.
    public func closeAfterFlush() {
        guard state == .open else { return }
        state = .closingAfterFlush
        scheduleFlush()
        loop.schedule(after: Self.lingerTimeout) { [weak self] _ in
            guard let self, self.state == .closingAfterFlush else { return }
            self.close()
        }
    }

    /// Flushed before the other connections of a turn: HTTP answers go out before the pushes
    /// a publish fanned out, so the backend hears back sooner and its next publish joins the
    /// same turn as the one after it (two frames per write instead of one).
    public var flushesEarly = false

    private func scheduleFlush() {
        guard !isDirty else { return }
        isDirty = true
        loop.markDirty(self, early: flushesEarly)
    }

    public func flush(on loop: EventLoop) {
        isDirty = false
        guard state == .open || state == .closingAfterFlush else { return }
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
                startLingering()
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
                if state == .open {
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

    /// Stops or resumes reading, for back-pressure.
    public func setReading(_ enabled: Bool) {
        guard state == .open else { return }
        let current = loop.interest(of: descriptor)
        let desired: PollerInterest = enabled ? current.union(.readable) : current.subtracting(.readable)
        do { try loop.setInterest(descriptor, desired) } catch { close() }
    }

    // MARK: - Closing

    private func startLingering() {
        state = .lingering
        shutdown(descriptor, Int32(SHUT_WR))
        do { try loop.setInterest(descriptor, .readable) } catch {
            close()
            return
        }
        loop.schedule(after: Self.lingerTimeout) { [weak self] _ in self?.close() }
    }

    /// Closes now, dropping anything unsent. Idempotent.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        loop.deregisterForClose(descriptor)
        Syscall.close(descriptor)
        queue.removeAll()
        budget?.release()
        lease?.release()
        lease = nil
        let handler = self.handler
        self.handler = nil  // Break the handler ↔ connection cycle.
        handler?.connectionClosed(self)
    }
}
