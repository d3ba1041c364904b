// One browser's session: authenticate within the deadline, then receive pushes (PROTOCOL.md "Browser endpoint").
public import Application
public import Domain
public import Logging

/// The subscriber flow on one WebSocket connection, confined to its loop.
public final class SubscriberSession: WebSocketEndpoint {
    enum State {
        case awaitingAuth
        case subscribed(Subscription)
        case ended
    }

    let topic: TopicName
    /// The client's address for logs (from X-Forwarded-For / X-Real-IP when present), sanitised.
    let clientIP: String
    private unowned let shard: WebSocketTransport
    private(set) var state: State = .awaitingAuth
    /// Strong, so a push costs no weak-reference load; the cycle with `socket.endpoint` ends
    /// in `closed(_:)`, which every ending of the connection calls.
    private(set) var socket: WebSocketConnection?
    private var lastStatusAnswer: MonotonicTime?

    init(topic: TopicName, clientIP: String, shard: WebSocketTransport) {
        self.topic = topic
        self.clientIP = clientIP
        self.shard = shard
    }

    private let timerGuard = TimerGuard()

    deinit { timerGuard.ownerDeinitialized() }

    var key: SessionKey { SessionKey(self) }

    public func opened(_ socket: WebSocketConnection) {
        self.socket = socket
        shard.sessionOpened(self)
        socket.loop.schedule(after: shard.authTimeout) { [timerGuard, unowned(unsafe) self] _ in
            guard !timerGuard.ownerIsGone, case .awaitingAuth = self.state, let socket = self.socket else { return }
            self.shard.logger.debug("client auth timeout", metadata: ["ip": "\(self.clientIP)", "topic": "\(self.topic.value)"])
            socket.close(code: CloseCode.policyViolation, closeFrame: self.shard.frames.closePolicy)
        }
    }

    public func received(_ message: WebSocketEvent, on socket: WebSocketConnection) {
        switch state {
        case .awaitingAuth:
            authenticate(AuthMessageReader.read(message), on: socket)
        case .subscribed:
            if topic == .workerStatus && StatusRequestReader.isStatusRequest(message) { answerStatus(on: socket) }
        case .ended:
            break
        }
    }

    private func authenticate(_ message: AuthMessage, on socket: WebSocketConnection) {
        let result = shard.broker.authenticateSubscriber(key, topic: topic, message: message, into: &shard.index)
        shard.indexChanged()
        switch result {
        case .success(let subscription):
            state = .subscribed(subscription)
            socket.send(shard.frames.authOK)
            shard.logger.debug("client subscribed", metadata: [
                "ip": "\(clientIP)", "topic": "\(topic.value)", "user_id": "\(subscription.userID)",
                "conn.id": "\(socket.connection.id)",
            ])
        case .failure(let failure):
            state = .ended
            let (frame, reason): (EncodedFrame, String)
            switch failure {
            case .authRequired: (frame, reason) = (shard.frames.authRequired, "auth_required")
            case .unauthorized(let rejection): (frame, reason) = (shard.frames.unauthorized, rejection.rawValue)
            case .topicNotRegistered: (frame, reason) = (shard.frames.unauthorized, "topic_not_registered")
            }
            shard.logger.info("client unauthorized", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)", "reason": "\(reason)"])
            socket.close(code: CloseCode.policyViolation, preface: [frame], closeFrame: shard.frames.closePolicy)
        }
    }

    // At most one answer per `statusInterval` per socket; faster requests are ignored (PROTOCOL.md item 4).
    private func answerStatus(on socket: WebSocketConnection) {
        let now = socket.loop.now
        if let last = lastStatusAnswer, now.duration(since: last) < WebSocketTransport.statusInterval { return }
        lastStatusAnswer = now
        let status = shard.broker.reportStatus(includeTopicLists: false)
        socket.send(WebSocketFrameEncoder.status(StatusJSON.encode(status)))
    }

    /// Delivers a shared push frame; a full queue closes the socket with 1013.
    func push(_ frame: EncodedFrame) {
        guard let socket else { return }
        if !socket.send(frame) {
            shard.slowConsumerClosed(self)
            socket.closeSlowConsumer(closeFrame: shard.frames.closeSlow)
        }
    }

    /// The token expired while the socket was open (already unsubscribed by ExpireTokens).
    func tokenExpired() {
        state = .ended
        guard let socket else { return }
        shard.logger.debug("client token expired", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)"])
        socket.close(code: CloseCode.policyViolation, preface: [shard.frames.authExpired], closeFrame: shard.frames.closePolicy)
    }

    /// Shutdown: close 1001.
    func goAway() {
        socket?.close(code: CloseCode.goingAway, closeFrame: shard.frames.closeGoingAway)
    }

    public func closed(_ socket: WebSocketConnection) {
        if case .subscribed = state {
            shard.broker.disconnect(key, from: &shard.index)
            shard.indexChanged()
        }
        state = .ended
        self.socket = nil
        shard.sessionClosed(self)
    }
}

/// A session as a subscription-index key: identity, not value.
struct SessionKey: Hashable {
    let session: SubscriberSession

    init(_ session: SubscriberSession) {
        self.session = session
    }

    static func == (lhs: SessionKey, rhs: SessionKey) -> Bool { lhs.session === rhs.session }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(session)) }
}

/// Reads the first message: `{"type":"auth","token":"..."}`.
enum AuthMessageReader {
    static func read(_ message: WebSocketEvent) -> AuthMessage {
        guard case .text(let bytes) = message else { return .other }
        return bytes.withUnsafeBufferPointer { buffer -> AuthMessage in
            guard let object = try? JSONObjectFields(buffer, maxDepth: 8),
                let type = object["type"], object.string(type) == "auth"
            else { return .other }
            guard let token = object["token"] else { return .auth(token: nil) }
            return .auth(token: object.string(token))
        }
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
