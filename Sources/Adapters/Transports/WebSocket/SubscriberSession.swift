// One browser's session on `/ws`: authenticate within the deadline, then receive pushes.
public import Application
public import Domain
public import Logging

/// The subscriber flow on one WebSocket connection (docs/protocol.md "Browser endpoint"),
/// confined to its loop. The engine writes pushes straight to its connection.
final class SubscriberSession: Subscriber, WebSocketEndpoint {
    enum State {
        case awaitingAuth
        case subscribed(Subscription)
        case ended
    }

    private let transport: WebSocketTransport
    private let shard: SubscriberShard
    private let broker: Broker
    private let logger: Logger
    private(set) var state: State = .awaitingAuth
    /// Strong; the cycle with `socket.endpoint` ends in `closed(_:)`, which every ending calls.
    private(set) var socket: WebSocketConnection?
    private var lastStatusAnswer: MonotonicTime?
    private let timerGuard = TimerGuard()

    init(connection: Connection, topic: TopicName, clientIP: String, transport: WebSocketTransport, context: TransportContext) {
        self.transport = transport
        self.shard = context.shard
        self.broker = context.broker
        self.logger = context.logger
        super.init(connection: connection, format: transport.format, topic: topic, clientIP: clientIP)
    }

    deinit { timerGuard.ownerDeinitialized() }

    private var frames: SubscriberFrames { transport.frames }

    func opened(_ socket: WebSocketConnection) {
        self.socket = socket
        shard.admit(self)
        socket.loop.schedule(after: transport.settings.authTimeout) { [timerGuard, unowned(unsafe) self] _ in
            guard !timerGuard.ownerIsGone, case .awaitingAuth = self.state, let socket = self.socket else { return }
            self.logger.debug("client auth timeout", metadata: ["ip": "\(self.clientIP)", "topic": "\(self.topic.value)"])
            socket.close(code: CloseCode.policyViolation, closeFrame: self.frames.closePolicy)
        }
    }

    func received(_ message: WebSocketEvent, on socket: WebSocketConnection) {
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
        switch shard.authenticate(self, message: message) {
        case .success(let subscription):
            state = .subscribed(subscription)
            socket.send(frames.authOK)
            logger.debug("client subscribed", metadata: [
                "ip": "\(clientIP)", "topic": "\(topic.value)", "user_id": "\(subscription.userID)",
                "conn.id": "\(socket.connection.id)",
            ])
        case .failure(let failure):
            state = .ended
            let (frame, reason): (EncodedFrame, String)
            switch failure {
            case .authRequired: (frame, reason) = (frames.authRequired, "auth_required")
            case .unauthorized(let rejection): (frame, reason) = (frames.unauthorized, rejection.rawValue)
            case .topicNotRegistered: (frame, reason) = (frames.unauthorized, "topic_not_registered")
            }
            logger.info("client unauthorized", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)", "reason": "\(reason)"])
            socket.close(code: CloseCode.policyViolation, preface: [frame], closeFrame: frames.closePolicy)
        }
    }

    // At most one answer per `statusInterval` per socket; faster requests are ignored.
    private func answerStatus(on socket: WebSocketConnection) {
        let now = socket.loop.now
        if let last = lastStatusAnswer, now.duration(since: last) < WebSocketTransport.statusInterval { return }
        lastStatusAnswer = now
        let status = broker.reportStatus(includeTopicLists: false)
        shard.send(WebSocketFrameEncoder.status(StatusJSON.encode(status)), to: self)
    }

    // MARK: - Endings the engine decides

    /// Drop what it has not started receiving and tell it 1013, instead of silently losing frames.
    override func tooSlow() {
        socket?.closeSlowConsumer(closeFrame: frames.closeSlow)
    }

    override func tokenExpired() {
        state = .ended
        guard let socket else { return }
        logger.debug("client token expired", metadata: ["ip": "\(clientIP)", "topic": "\(topic.value)"])
        socket.close(code: CloseCode.policyViolation, preface: [frames.authExpired], closeFrame: frames.closePolicy)
    }

    override func goAway() {
        socket?.close(code: CloseCode.goingAway, closeFrame: frames.closeGoingAway)
    }

    func closed(_ socket: WebSocketConnection) {
        state = .ended
        self.socket = nil
        shard.remove(self)
    }
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
