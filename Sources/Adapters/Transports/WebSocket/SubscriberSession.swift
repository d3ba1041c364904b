// One browser's session on `/ws`: authenticate within the deadline, then receive pushes.
public import Application
public import Domain
public import Logging

/// The subscriber flow on one WebSocket connection (docs/protocol.md "Browser endpoint (WebSocket)"),
/// confined to its loop. The engine writes pushes straight to its connection.
final class SubscriberSession: Subscriber, WebSocketEndpoint {
    enum State {
        case awaitingAuth
        case subscribed(Subscription)
        case ended
    }

    /// The loop's route holds the transport's settings, frames and the engine's pieces: one
    /// reference instead of copies of them in every session (an idle socket stays near 1 KiB).
    private let route: WebSocketRoute
    private(set) var state: State = .awaitingAuth
    /// Strong; the cycle with `socket.endpoint` ends in `closed(_:)`, which every ending calls.
    private(set) var socket: WebSocketConnection?
    private var lastStatusAnswer: MonotonicTime?
    private let timerGuard = TimerGuard()

    init(connection: Connection, topic: TopicName, clientIP: String, format: WireFormat, route: WebSocketRoute) {
        self.route = route
        super.init(connection: connection, format: format, topic: topic, clientIP: clientIP)
    }

    deinit { timerGuard.ownerDeinitialized() }

    override var transportName: String { WebSocketTransport.name }

    func opened(_ socket: WebSocketConnection) {
        self.socket = socket
        route.shard.admit(self)
        socket.loop.schedule(afterSharedDelay: route.authTimeout, owner: timerGuard) { [unowned(unsafe) self] _ in
            guard case .awaitingAuth = self.state, let socket = self.socket else { return }
            self.route.logger.debug("client auth timeout", metadata: ["ip": "\(self.clientIP)", "topic": "\(self.topic.value)"])
            socket.close(code: CloseCode.policyViolation, closeFrame: self.route.frames.closePolicy)
        }
    }

    func received(_ message: WebSocketEvent, on socket: WebSocketConnection) {
        switch state {
        case .awaitingAuth:
            let (auth, since) = AuthMessageReader.readWithSince(message)
            authenticate(auth, since: since, on: socket)
        case .subscribed:
            if topic == .workerStatus && StatusRequestReader.isStatusRequest(message) {
                answerStatus(on: socket)
            } else {
                let auth = AuthMessageReader.read(message)
                if case .auth = auth { refresh(auth, on: socket) }
            }
        case .ended:
            break
        }
    }

    private func authenticate(_ message: AuthMessage, since: [UInt8]?, on socket: WebSocketConnection) {
        switch route.shard.authenticate(self, message: message) {
        case .success(let subscription):
            state = .subscribed(subscription)
            // Subscribed and answered in one turn: the missed pushes go before any live one.
            let limit = connection.queueLimit
            switch route.shard.resume(topic, since: since, room: (limit.frames / 2, limit.bytes / 2), in: route.format) {
            case .fresh(nil):
                socket.send(route.frames.authOK)
            case .fresh(let current?):
                socket.send(SubscriberFrames.authOK(recovered: nil, offset: current))
            case .recovered(let current, let missed):
                socket.send(SubscriberFrames.authOK(recovered: true, offset: current))
                route.shard.sendMissed(missed, in: route.format, to: self)
            case .resync(let current):
                socket.send(SubscriberFrames.authOK(recovered: false, offset: current))
            }
            route.logger.debug("client subscribed", metadata: [
                "ip": "\(clientIP)", "topic": "\(topic.value)", "user_id": "\(subscription.userID)",
                "conn.id": "\(socket.connection.id)",
            ])
        case .failure(let failure):
            state = .ended
            let frame = failure == .authRequired ? route.frames.authRequired : route.frames.unauthorized
            route.logger.info("client unauthorized", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)", "reason": "\(failure.reason)"])
            socket.close(code: CloseCode.policyViolation, preface: [frame], closeFrame: route.frames.closePolicy)
        }
    }

    /// A new token on a subscribed socket: a later expiry, or a refusal that keeps the old one
    /// (the socket stays open; the page may try again before its token runs out).
    private func refresh(_ message: AuthMessage, on socket: WebSocketConnection) {
        switch route.shard.refresh(self, message: message) {
        case .success:
            route.shard.send(route.frames.authOK, to: self)
        case .failure(let failure):
            route.logger.info("client token refresh refused", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)", "reason": "\(failure.reason)"])
            route.shard.send(route.frames.unauthorized, to: self)
        }
    }

    // At most one answer per `statusInterval` per socket; faster requests are ignored.
    private func answerStatus(on socket: WebSocketConnection) {
        let now = socket.loop.now
        if let last = lastStatusAnswer, now.duration(since: last) < WebSocketTransport.statusInterval { return }
        lastStatusAnswer = now
        let status = route.broker.reportStatus(includeTopicLists: false)
        route.shard.send(WebSocketFrameEncoder.status(StatusJSON.encode(status)), to: self)
    }

    // MARK: - Endings the engine decides

    /// Drop what it has not started receiving and tell it 1013, instead of silently losing frames.
    override func tooSlow() {
        socket?.closeSlowConsumer(closeFrame: route.frames.closeSlow)
    }

    override func tokenExpired() {
        state = .ended
        guard let socket else { return }
        route.logger.debug("client token expired", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)"])
        socket.close(code: CloseCode.policyViolation, preface: [route.frames.authExpired], closeFrame: route.frames.closePolicy)
    }

    override func goAway() {
        socket?.close(code: CloseCode.goingAway, closeFrame: route.frames.closeGoingAway)
    }

    override func restart() {
        socket?.close(code: CloseCode.serviceRestart, closeFrame: route.frames.closeRestart)
    }

    func closed(_ socket: WebSocketConnection) {
        state = .ended
        self.socket = nil
        route.shard.remove(self)
    }
}

/// Reads the first message: `{"type":"auth","token":"..."}`, with `"since":"<position>"` when
/// the client resumes.
enum AuthMessageReader {
    /// The message and the raw `since` value: its string's bytes, empty bytes for a value that
    /// is not a string (so it is answered `recovered:false`), nil when absent.
    static func readWithSince(_ message: WebSocketEvent) -> (AuthMessage, [UInt8]?) {
        guard case .text(let bytes) = message else { return (.other, nil) }
        // One parse gives the token and the position.
        return bytes.withUnsafeBufferPointer { buffer -> (AuthMessage, [UInt8]?) in
            guard let object = try? JSONObjectFields(buffer, maxDepth: 8) else { return (.other, nil) }
            let auth = read(object)
            guard auth != .other, let field = object["since"] else { return (auth, nil) }
            guard let text = object.string(field) else { return (auth, []) }
            return (auth, Array(text.utf8.prefix(StreamPosition.maxTextLength + 1)))
        }
    }

    static func read(_ message: WebSocketEvent) -> AuthMessage {
        guard case .text(let bytes) = message else { return .other }
        return bytes.withUnsafeBufferPointer { buffer -> AuthMessage in
            guard let object = try? JSONObjectFields(buffer, maxDepth: 8) else { return .other }
            return read(object)
        }
    }

    private static func read(_ object: JSONObjectFields) -> AuthMessage {
        guard let type = object["type"], object.string(type) == "auth" else { return .other }
        guard let token = object["token"] else { return .auth(token: nil) }
        return .auth(token: object.string(token))
    }
}

/// Recognises `{"type":"status"}`.
enum StatusRequestReader {
    static func isStatusRequest(_ message: WebSocketEvent) -> Bool {
        guard case .text(let bytes) = message else { return false }
        return bytes.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer, maxDepth: 8), let type = object["type"] else { return false }
            return object.string(type) == "status"
        }
    }
}
