// The WebSocket layer of one connection: frames in, frames out, ping/idle, the close handshake.
public import Domain

/// What runs on top of a WebSocket connection (the subscriber flow, or the echo used for Autobahn).
public protocol WebSocketEndpoint: AnyObject {
    func opened(_ socket: WebSocketConnection)
    /// A complete text or binary message (fragments already joined, text already UTF-8-checked).
    func received(_ message: WebSocketEvent, on socket: WebSocketConnection)
    /// The connection ended; called once.
    func closed(_ socket: WebSocketConnection)
    /// Nothing was heard for `idleTimeout`; the endpoint closes it in its protocol's words.
    func idleTimedOut(_ socket: WebSocketConnection)
    /// `pingInterval` passed: ask the peer for a sign of life (a ping frame, unless the
    /// protocol has its own ping message).
    func pingDue(_ socket: WebSocketConnection)
}

extension WebSocketEndpoint {
    public func pingDue(_ socket: WebSocketConnection) {
        socket.send(WebSocketFrameEncoder.ping)
    }

    public func idleTimedOut(_ socket: WebSocketConnection) {
        socket.close(code: CloseCode.goingAway)
    }
}

/// Timing and size settings of WebSocket connections.
public struct WebSocketSettings: Sendable {
    /// docs/protocol.md "Browser endpoint (WebSocket)", rule 5: a client message over 4 KiB closes
    /// with 1009.
    public var maxMessageBytes = 4096
    public var pingInterval: Duration = .seconds(30)
    public var idleTimeout: Duration = .seconds(60)

    public init() {}
}

/// Frames over one upgraded connection. Confined to the connection's loop.
public final class WebSocketConnection: ConnectionHandler, UpgradedConnectionHandler {
    public let connection: Connection
    public let endpoint: any WebSocketEndpoint
    private let settings: WebSocketSettings
    private var parser: WebSocketFrameParser
    private var pending: [UInt8] = []
    private var lastHeard: MonotonicTime
    private var timerGeneration: UInt64 = 0
    private let timerGuard = TimerGuard()
    private var handshake = WebSocketCloseHandshake()
    /// The parser refused the input: nothing after the error can be read as frames.
    private var inputBroken = false
    private var endpointClosed = false

    /// True once a close frame went out (ours or our answer); nothing else may follow it
    /// (RFC 6455 §5.5.1).
    public var closeSent: Bool { handshake.state != .open }

    /// Bytes after our close frame are read for the peer's close frame.
    public var readsWhileClosing: Bool { true }

    deinit { timerGuard.ownerDeinitialized() }

    /// - Parameter inflater: the loop's inflater when the handshake negotiated permessage-deflate.
    public init(connection: Connection, endpoint: any WebSocketEndpoint, settings: WebSocketSettings, inflater: RawInflater? = nil) {
        self.connection = connection
        self.endpoint = endpoint
        self.settings = settings
        self.parser = WebSocketFrameParser(maxMessageBytes: settings.maxMessageBytes, inflater: inflater)
        self.lastHeard = connection.loop.now
    }

    public var loop: EventLoop { connection.loop }

    // MARK: - Output

    /// Queues a frame; false when the socket's queue is full (the caller closes with 1013).
    @discardableResult
    public func send(_ frame: EncodedFrame) -> Bool {
        guard handshake.state == .open else { return true }
        return connection.send(frame)
    }

    /// Sends `preface` frames (an error message) and a close frame, then ends the connection
    /// once the peer answers with its close frame, or at the connection's linger deadline.
    public func close(code: UInt16?, preface: [EncodedFrame] = [], closeFrame: EncodedFrame? = nil) {
        guard connection.state == .open, handshake.closeRequested() == .sendClose else { return }
        for frame in preface { connection.send(frame) }
        sendClose(code: code, frame: closeFrame)
        connection.closeAfterFlush()
        notifyClosed()
    }

    private func sendClose(code: UInt16?, frame: EncodedFrame?) {
        connection.loop.metrics.countClose(code ?? 1005)
        connection.send(frame ?? WebSocketFrameEncoder.close(code: code))
    }

    /// For a socket that cannot keep up: drop what it has not started receiving and tell it
    /// 1013, instead of silently losing frames
    /// (docs/protocol.md "Browser endpoint (WebSocket)", rule 7).
    public func closeSlowConsumer(closeFrame: EncodedFrame) {
        guard handshake.state == .open, connection.state == .open else { return }
        connection.discardUnstartedFrames()
        close(code: CloseCode.tryAgainLater, closeFrame: closeFrame)
    }

    // MARK: - Input

    public func upgraded(_ connection: Connection, pending: UnsafeRawBufferPointer) {
        armPingTimer()
        endpoint.opened(self)
        if !pending.isEmpty { received(pending, on: connection) }
    }

    public func received(_ bytes: UnsafeRawBufferPointer, on connection: Connection) {
        lastHeard = connection.loop.now
        if pending.isEmpty {
            let consumed = process(bytes)
            if consumed < bytes.count, connection.state != .closed {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            pending.append(contentsOf: bytes)
            let buffered = pending
            let consumed = buffered.withUnsafeBytes { process($0) }
            pending.removeFirst(min(consumed, pending.count))
            if pending.isEmpty { pending = [] }  // An idle socket owns no buffer.
        }
    }

    private func process(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while connection.state != .closed && !inputBroken && handshake.state != .closed {
            let result: WebSocketFrameParser.Result
            do {
                result = try parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            } catch {
                inputBroken = true
                close(code: error.closeCode)
                return bytes.count
            }
            switch result {
            case .needMoreBytes:
                return offset
            case .fragment(let consumed):
                offset += consumed
            case .event(let event, let consumed):
                offset += consumed
                handle(event)
            }
        }
        return bytes.count
    }

    private func handle(_ event: WebSocketEvent) {
        switch event {
        case .text, .binary:
            if handshake.deliversMessages { endpoint.received(event, on: self) }
        case .ping(let payload):
            send(WebSocketFrameEncoder.pong(payload))
        case .pong:
            break  // lastHeard is already updated.
        case .close(let code, _):
            switch handshake.peerClosed(code: code) {
            case .answerClose(let echoed):
                // RFC 6455 §5.5.1: answer with a close frame, echoing the code; the peer sends
                // nothing more, so the connection closes once the answer is written.
                sendClose(code: echoed, frame: nil)
                connection.closeWithoutLingering()
                notifyClosed()
            case .finish:
                // §7.1.1: both close frames exchanged; the server closes the TCP connection first.
                connection.closeWithoutLingering()
            default:
                break
            }
        }
    }

    public func connectionClosed(_ connection: Connection) {
        handshake.connectionClosed()
        timerGeneration &+= 1
        pending = []
        notifyClosed()
    }

    private func notifyClosed() {
        guard !endpointClosed else { return }
        endpointClosed = true
        endpoint.closed(self)
    }

    // MARK: - Keep-alive (docs/protocol.md "Browser endpoint (WebSocket)", rule 6)

    private func armPingTimer() {
        timerGeneration &+= 1
        let generation = timerGeneration
        connection.loop.schedule(afterSharedDelay: settings.pingInterval, owner: timerGuard) { [unowned(unsafe) self] loop in
            guard self.timerGeneration == generation, self.connection.state == .open else { return }
            if loop.now.duration(since: self.lastHeard) >= self.settings.idleTimeout {
                self.endpoint.idleTimedOut(self)
                return
            }
            self.endpoint.pingDue(self)
            self.armPingTimer()
        }
    }
}
