// Drives the request parser over a connection and writes responses in request order.
public import Domain

/// What a responder does with a complete request.
public enum HTTPResponderAction {
    /// Write `response`; keep the connection if `keepAlive`.
    case respond(EncodedFrame, keepAlive: Bool)
    /// Write `response` (101) and hand the connection to `handler`, with any bytes that followed.
    case upgrade(EncodedFrame, any ConnectionHandler & UpgradedConnectionHandler)
    /// The answer needs something asynchronous (a Redis round trip): `start` gets a reply to
    /// resume exactly once. Later pipelined requests wait, so answers stay in order.
    case deferred((DeferredReply) -> Void)
}

/// The pending answer of a deferred request. `resume` may be called from any thread; the action
/// is produced and applied on the connection's loop.
public final class DeferredReply: @unchecked Sendable {
    private weak var handler: HTTPServerHandler?
    private weak var connection: Connection?
    private let loop: EventLoop

    init(handler: HTTPServerHandler, connection: Connection) {
        self.handler = handler
        self.connection = connection
        self.loop = connection.loop
    }

    /// Runs `produce` on the connection's loop and applies the action it returns.
    public func resume(_ produce: @escaping () -> HTTPResponderAction) {
        let confined = LoopBound(produce)
        loop.execute { [self] _ in self.apply(confined.value) }
    }

    private func apply(_ produce: () -> HTTPResponderAction) {
        guard let handler, let connection, connection.state == .open else { return }
        handler.resume(produce(), on: connection)
    }
}

/// A handler that takes over a connection after an HTTP upgrade.
public protocol UpgradedConnectionHandler: AnyObject {
    /// The connection is now this handler's; `pending` holds bytes received after the request.
    func upgraded(_ connection: Connection, pending: UnsafeRawBufferPointer)
}

/// Answers complete requests. One per transport and loop.
public protocol HTTPResponder: AnyObject {
    func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction
    /// The answer to a request the parser refused (400, 413, 431, ...); always closes.
    func reject(_ error: HTTPParseError) -> EncodedFrame
    /// Whether its requests need `HTTPHeaders.fields` (any header by name); true unless it says not.
    var readsAnyField: Bool { get }
}

extension HTTPResponder {
    public var readsAnyField: Bool { true }
}

/// An HTTP/1.1 server connection: keep-alive, pipelining, deadlines.
///
/// An idle keep-alive connection holds no buffer: bytes are parsed straight from the loop's read
/// buffer, and only an incomplete request is copied aside until the rest arrives.
public final class HTTPServerHandler: ConnectionHandler {
    private let responder: any HTTPResponder
    private var parser: HTTPRequestParser
    private var pending: [UInt8] = []
    /// What the connection must do by when. Moving it is a store, not a timer: see `arm`.
    private var deadline = Deadline.none
    /// The earliest timer this connection has in the loop's heap, if any.
    private var timerDueAt: MonotonicTime?
    private var requestStartedAt: MonotonicTime?
    private var draining = false
    /// A deferred request is being answered; input waits in `pending` until it is.
    private var awaiting = false
    /// The request being answered asked to close the connection (or is HTTP/1.0 without
    /// keep-alive), so its client sends nothing more.
    private var peerClosesAfterAnswer = false
    private let onClose: (HTTPServerHandler) -> Void
    private let timeouts: HTTPTimeouts
    private let timerGuard = TimerGuard()

    public init(responder: any HTTPResponder, timeouts: HTTPTimeouts = .standard, onClose: @escaping (HTTPServerHandler) -> Void) {
        self.responder = responder
        self.timeouts = timeouts
        self.onClose = onClose
        parser = HTTPRequestParser(keepsFieldLines: responder.readsAnyField)
    }

    deinit { timerGuard.ownerDeinitialized() }

    /// Arms the keep-alive deadline of a new connection.
    public func start(_ connection: Connection) {
        connection.flushesEarly = true
        armIdleDeadline(connection)
    }

    public func received(_ bytes: UnsafeRawBufferPointer, on connection: Connection) {
        if awaiting {
            pending.append(contentsOf: bytes)
            return
        }
        if pending.isEmpty {
            let consumed = process(bytes, on: connection)
            if consumed < bytes.count, connection.state == .open, connection.handler === self {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            pending.append(contentsOf: bytes)
            let buffered = pending
            let consumed = buffered.withUnsafeBytes { process($0, on: connection) }
            if connection.handler === self {
                pending.removeFirst(min(consumed, pending.count))
                if pending.isEmpty { pending = [] }  // Release the storage: idle connections own no buffer.
            } else {
                pending = []
            }
        }
        afterInput(on: connection)
    }

    private func afterInput(on connection: Connection) {
        if connection.state == .open, connection.handler === self, !awaiting {
            if parser.isBetweenRequests && pending.isEmpty {
                requestStartedAt = nil
                if draining { connection.closeAfterFlush() } else { armIdleDeadline(connection) }
            } else if requestStartedAt == nil {
                requestStartedAt = connection.loop.now
                armRequestDeadline(connection)
            }
        }
    }

    /// Parses and answers every complete request in `bytes`; returns how many bytes were used.
    private func process(_ bytes: UnsafeRawBufferPointer, on connection: Connection) -> Int {
        var offset = 0
        while connection.state == .open, connection.handler === self {
            let event: HTTPRequestParser.Event
            do {
                event = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                connection.send(responder.reject(error))
                connection.closeAfterFlush()
                return bytes.count
            }
            // Consumed, so the request moves out of the event rather than being copied (a
            // retain and a release of every field of its head).
            switch consume event {
            case .needMoreBytes:
                return offset
            case .continueExpected:
                connection.send(HTTPResponse.continueFrame)
            case .request(let request, let consumed):
                offset += consumed
                requestStartedAt = nil
                peerClosesAfterAnswer = !request.head.keepAlive
                let action = responder.respond(to: request, from: connection)
                if case .deferred(let start) = action {
                    awaiting = true
                    deadline = .none
                    start(DeferredReply(handler: self, connection: connection))
                    return offset
                }
                if apply(action, on: connection, following: UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                    return bytes.count
                }
            }
        }
        return bytes.count
    }

    /// Carries out a non-deferred action; true when the connection is done with HTTP.
    private func apply(_ action: HTTPResponderAction, on connection: Connection, following: UnsafeRawBufferPointer) -> Bool {
        switch action {
        case .respond(let response, let keepAlive):
            connection.send(response)
            if !keepAlive || draining {
                // Nothing more comes from a client that asked to close and sent nothing after
                // its request; a client we close on is still owed the lingering close.
                connection.closeAfterFlush(lingering: !(peerClosesAfterAnswer && following.isEmpty))
                return true
            }
            return false
        case .upgrade(let response, let handler):
            connection.send(response)
            deadline = .none
            connection.handler = handler
            connection.flushesEarly = false  // pushes are the bulk, not the answers
            handler.upgraded(connection, pending: following)
            onClose(self)
            return true
        case .deferred:
            preconditionFailure("a deferred reply resumed with another deferral")
        }
    }

    /// The answer to a deferred request is ready: write it, then serve what arrived meanwhile.
    func resume(_ action: HTTPResponderAction, on connection: Connection) {
        guard awaiting else { return }
        awaiting = false
        let buffered = pending
        pending = []
        let done = buffered.withUnsafeBytes { apply(action, on: connection, following: $0) }
        if done { return }
        if !buffered.isEmpty {
            buffered.withUnsafeBytes { received($0, on: connection) }
        } else {
            afterInput(on: connection)
        }
    }

    public func connectionClosed(_ connection: Connection) {
        deadline = .none
        pending = []
        onClose(self)
    }

    /// Shutdown: idle connections close now, busy ones after their current request.
    public func drain(_ connection: Connection) {
        draining = true
        if parser.isBetweenRequests && pending.isEmpty && !awaiting { connection.closeAfterFlush() }
    }

    // MARK: - Deadlines

    private enum Deadline {
        case none
        /// An idle keep-alive connection closes at this instant.
        case idle(MonotonicTime)
        /// Slow-loris defence: the head must be complete by the first instant, the whole request
        /// by the second (both counted from the request's first byte).
        case head(MonotonicTime, request: MonotonicTime)
        case request(MonotonicTime)

        var instant: MonotonicTime? {
            switch self {
            case .none: nil
            case .idle(let at), .head(let at, _), .request(let at): at
            }
        }
    }

    private func armIdleDeadline(_ connection: Connection) {
        setDeadline(.idle(connection.loop.now.advanced(by: timeouts.keepAlive)), after: timeouts.keepAlive, connection)
    }

    private func armRequestDeadline(_ connection: Connection) {
        let now = connection.loop.now
        setDeadline(.head(now.advanced(by: timeouts.head), request: now.advanced(by: timeouts.request)), after: timeouts.head, connection)
    }

    /// A keep-alive connection moves its deadline on every request; scheduling a timer each time
    /// filled the loop's heap with one stale entry per request (2 million after 30 s at 70k
    /// requests/s). Now a connection has a timer only when its deadline is earlier than the one
    /// it already has, and a timer that fires early re-arms for the deadline as it is then.
    ///
    /// `delay`, when given, is how far from now the new deadline's instant lies: a timer for it
    /// goes into the loop's lane for that delay, shared by every connection (docs/adr/0015),
    /// not into the heap, where 10,000 connections setting up cost a sift of 14 levels each.
    private func setDeadline(_ new: Deadline, after delay: Duration? = nil, _ connection: Connection) {
        deadline = new
        guard let at = new.instant else { return }
        if let timerDueAt, timerDueAt <= at { return }
        arm(at, after: delay, connection)
    }

    private func arm(_ at: MonotonicTime, after delay: Duration? = nil, _ connection: Connection) {
        timerDueAt = at
        // The connection outlives its handler: the transport holds both until the handler's
        // onClose, and a handler only a connection still points at dies with it.
        let fire: (EventLoop) -> Void = { [unowned(unsafe) self, unowned(unsafe) connection] loop in
            if self.timerDueAt == at { self.timerDueAt = nil }
            self.deadlineFired(connection, now: loop.now)
        }
        if let delay {
            connection.loop.schedule(afterSharedDelay: delay, owner: timerGuard, fire)
        } else {
            connection.loop.schedule(at: at, owner: timerGuard, fire)
        }
    }

    private func deadlineFired(_ connection: Connection, now: MonotonicTime) {
        guard connection.state == .open, connection.handler === self, let at = deadline.instant else { return }
        guard now >= at else {
            if timerDueAt.map({ $0 > at }) ?? true { arm(at, connection) }
            return
        }
        switch deadline {
        case .none: return
        case .idle:
            deadline = .none
            connection.close()
        case .head(_, let requestAt):
            if parser.isReadingHead {
                deadline = .none
                timeOut(connection)
            } else {
                setDeadline(.request(requestAt), connection)
            }
        case .request:
            deadline = .none
            timeOut(connection)
        }
    }

    private func timeOut(_ connection: Connection) {
        connection.send(PlainAnswers.frame(.requestTimeout, keepAlive: false))
        connection.closeAfterFlush()
    }
}
