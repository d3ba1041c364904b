// The handshake of `/app/{key}` on one loop, and the loop's sockets by `socket_id`.
internal import Application
internal import Domain
internal import Logging

/// Upgrades `/app/{key}?protocol=7` and hands the socket to a `PusherSession`. Errors of the
/// Pusher protocol (unknown key, protocol version, quota) are told over the upgraded socket as
/// pusher-js expects: a `pusher:error`, then a close with the same code.
final class PusherRoute: RouteHandler, SocketDirectory {
    static let supportedProtocols = 5...7

    let node: PusherNode
    let format: WireFormat
    let frames: PusherFrames
    let shard: SubscriberShard
    let broker: Broker
    let admission: Admission
    let logger: Logger
    let webSocket: WebSocketSettings
    let activityTimeoutSeconds: Int
    /// Each app's topic for its sessions as engine members (never in the index).
    let sessionTopics: [TopicName]
    /// This loop's sockets, by `socket_id`.
    var sessions: [String: PusherSession] = [:]

    init(transport: PusherTransport, context: TransportContext) {
        node = transport.node
        format = transport.format
        frames = transport.frames
        shard = context.shard
        broker = context.broker
        admission = context.admission
        logger = context.logger
        webSocket = transport.settings.webSocket
        activityTimeoutSeconds = max(1, Int(transport.settings.activityTimeout.components.seconds))
        sessionTopics = transport.node.apps.map { TopicName.namespaced(PusherTransport.namespace, "\($0.id)#")! }
    }

    func topic(app: Int, channel: String) -> TopicName? { node.topic(app: app, channel: channel) }

    func connection(forSocket name: String) -> Connection? { sessions[name]?.connection }

    func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        let keepAlive = head.keepAlive
        let clientKey: String
        switch admission.webSocketKey(head, from: connection) {
        case .success(let key): clientKey = key
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive)
        }
        let clientIP: String
        switch admission.admit(head, from: connection, shard: shard, originRequired: true) {
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive && !refusal.endsConnection)
        case .success(let address): clientIP = address
        }
        let endpoint: any WebSocketEndpoint
        switch accept(head) {
        case .failure(let refusal):
            connection.loop.metrics.countRefusal(refusal.reason)
            logger.debug("pusher connection refused", metadata: ["ip": "\(clientIP)", "code": "\(refusal.code)", "reason": "\(refusal.reason)"])
            endpoint = PusherRefusal(code: refusal.code, message: refusal.message)
        case .success(let app):
            guard let socketID = PusherSocketID.make() else {
                node.disconnect(app: app)
                endpoint = PusherRefusal(code: PusherCode.overCapacity, message: "No random source")
                break
            }
            endpoint = PusherSession(connection: connection, app: app, socketID: socketID, clientIP: clientIP, route: self)
        }
        let socket = WebSocketConnection(connection: connection, endpoint: endpoint, settings: webSocket)
        return .upgrade(WebSocketHandshake.response(key: clientKey, extensions: nil), socket)
    }

    private struct Refusal: Error {
        let code: UInt16
        let message: String
        let reason: String
    }

    /// The app the path names, if the protocol version suits and the app has room.
    private func accept(_ head: HTTPRequestHead) -> Result<Int, Refusal> {
        let key = head.path.dropFirst("/app/".count)
        guard let app = node.app(key: key) else {
            return .failure(Refusal(code: PusherCode.appNotFound, message: "App key \(key.prefix(64)) not in this cluster", reason: "pusher_unknown_app"))
        }
        guard let text = head.queryValue("protocol"), !text.isEmpty else {
            return .failure(Refusal(code: PusherCode.noProtocol, message: "No protocol version supplied", reason: "pusher_protocol"))
        }
        guard let version = Int(text), Self.supportedProtocols.contains(version) else {
            return .failure(Refusal(code: PusherCode.unsupportedProtocol, message: "Unsupported protocol version", reason: "pusher_protocol"))
        }
        guard node.connect(app: app) else {
            return .failure(Refusal(code: PusherCode.overCapacity, message: "Over connection quota", reason: "pusher_app_connections"))
        }
        return .success(app)
    }
}

/// An upgraded socket that is only told why it cannot stay.
final class PusherRefusal: WebSocketEndpoint {
    let code: UInt16
    let message: String

    init(code: UInt16, message: String) {
        self.code = code
        self.message = message
    }

    func opened(_ socket: WebSocketConnection) {
        let (preface, close) = PusherFrames.fatal(code: code, message)
        socket.close(code: code, preface: [preface], closeFrame: close)
    }

    func received(_ message: WebSocketEvent, on socket: WebSocketConnection) {}
    func closed(_ socket: WebSocketConnection) {}
}

/// `socket_id`: two random decimal numbers, as `\d+\.\d+`. It binds channel signatures to one
/// connection, so it comes from the OS random source and cannot be guessed.
enum PusherSocketID {
    static func make() -> String? {
        guard let bytes = OpenSSLDigest.randomBytes(count: 8) else { return nil }
        let high = bytes[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let low = bytes[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return "\(high).\(low)"
    }

    static func isValid(_ text: some StringProtocol) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.count <= 20 && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }
    }
}
