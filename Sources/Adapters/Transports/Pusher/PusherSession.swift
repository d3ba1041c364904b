// One Pusher client's socket: connection_established, ping, subscriptions, client events, sign-in.
internal import Application
public import Domain
internal import Logging

/// The Pusher protocol on one WebSocket connection, confined to its loop. The session is the
/// engine's member for the socket (drain, connection counts); each channel it joins is a
/// `PusherChannelSubscriber` in the shard's index, so an event reaches the socket through the
/// same shared frame as every other subscriber of the channel.
final class PusherSession: Subscriber, WebSocketEndpoint {
    static let maxChannels = 100
    static let clientEventsPerSecond = 10.0

    unowned(unsafe) let route: PusherRoute
    let app: Int
    let socketID: String
    private(set) var socket: WebSocketConnection?
    private var channels: [String: PusherChannelSubscriber] = [:]
    private var signedInUser: String?
    /// The node's announcement its watchlist's first `online` showed (see `PusherNode.signedIn`).
    var watchlistVersion: UInt64 = 0
    private var clientEvents: TokenBucket?

    init(connection: Connection, app: Int, socketID: String, clientIP: String, route: PusherRoute) {
        self.route = route
        self.app = app
        self.socketID = socketID
        super.init(connection: connection, format: route.format, topic: route.sessionTopics[app], clientIP: clientIP)
    }

    override var transportName: String { PusherTransport.name }
    override var isCountedInStatistics: Bool { false }

    private var settings: PusherAppSettings { route.node.apps[app].settings }
    private var address: PusherSocketAddress { PusherSocketAddress(loop: connection.loop.index, socketID: socketID) }

    func opened(_ socket: WebSocketConnection) {
        self.socket = socket
        route.shard.admit(self)
        route.sessions[socketID] = self
        socket.send(route.frames.connectionEstablished(socketID: socketID, activityTimeout: route.activityTimeoutSeconds))
        route.logger.debug("pusher client connected", metadata: ["ip": "\(clientIP)", "app": "\(settings.id)", "socket_id": "\(socketID)"])
    }

    func received(_ message: WebSocketEvent, on socket: WebSocketConnection) {
        guard case .text(let bytes) = message else { return }
        let decoded = bytes.withUnsafeBufferPointer { PusherMessageDecoder.decode($0) }
        switch decoded {
        case .failure(.malformed):
            socket.send(PusherFrames.errorMessage(code: nil, "Invalid message: expected a JSON object with an event"))
        case .failure(.incomplete(let event)):
            socket.send(PusherFrames.errorMessage(code: nil, "Invalid \(event) message"))
        case .success(.ping):
            socket.send(route.frames.pong)
        case .success(.pong), .success(.other):
            break
        case .success(.subscribe(let channel, let auth, let channelData)):
            subscribe(channel, auth: auth ?? "", channelData: channelData, on: socket)
        case .success(.unsubscribe(let channel)):
            unsubscribe(channel)
        case .success(.signin(let auth, let userData)):
            signIn(auth: auth, userData: userData, on: socket)
        case .success(.clientEvent(let name, let channel, let data)):
            clientEvent(name, channel: channel, data: data, on: socket)
        }
    }

    // MARK: - Subscriptions

    private func subscribe(_ channel: String, auth: String, channelData: String?, on socket: WebSocketConnection) {
        guard channels[channel] == nil else { return }  // already subscribed: nothing changes
        guard let kind = PusherChannelKind(name: channel), let topic = route.topic(app: app, channel: channel) else {
            return refuse(channel, type: "InvalidChannel", "Invalid channel name", status: 400, on: socket)
        }
        guard channels.count < Self.maxChannels else {
            return refuse(channel, type: "LimitReached", "A socket may subscribe to at most \(Self.maxChannels) channels", status: 400, on: socket)
        }
        let app = route.node.apps[self.app]
        var member: PresenceMember?
        switch kind {
        case .public:
            break
        case .private:
            guard app.signer.isAuth(auth, key: app.key, of: "\(socketID):\(channel)") else {
                return refuseSignature(channel, on: socket)
            }
        case .presence:
            guard let channelData, app.signer.isAuth(auth, key: app.key, of: "\(socketID):\(channel):\(channelData)") else {
                return refuseSignature(channel, on: socket)
            }
            guard let read = PresenceMember(channelData: channelData) else {
                return refuse(channel, type: "AuthError", "channel_data must hold a user_id", status: 400, on: socket)
            }
            member = read
        case .user(let id):
            guard signedInUser == String(id) else { return refuseSignature(channel, on: socket) }
        }
        var succeeded = "{}"
        var rosterVersion: UInt64 = 0
        if let member {
            // Any `member_added` for this join goes out from the node's announcements, on a
            // later turn of each loop, to the sockets whose roster does not show it yet.
            switch route.node.join(app: self.app, channel: channel, member: member) {
            case .full:
                return refuse(channel, type: "LimitReached", "The presence channel is full", status: 403, on: socket)
            case .joined(let members, let version):
                succeeded = PusherFrames.presenceData(members)
                rosterVersion = version
            }
        }
        let subscriber = PusherChannelSubscriber(
            session: self, channel: channel, topic: topic, presenceUserID: member?.userID, rosterVersion: rosterVersion)
        channels[channel] = subscriber
        route.shard.subscribeAuthorised(subscriber)
        route.node.subscribed(app: self.app, channel: channel)
        socket.send(PusherFrames.subscriptionSucceeded(channel: channel, data: succeeded))
        if PusherChannelKind.isCache(channel) {
            if let cached = route.node.cachedEvent(app: self.app, channel: channel) {
                socket.send(WebSocketFrameEncoder.text(cached.message))
            } else {
                socket.send(PusherFrames.cacheMiss(channel: channel))
                route.node.hookCacheMiss(app: self.app, channel: channel)
            }
        }
        route.logger.debug("pusher client subscribed", metadata: [
            "ip": "\(clientIP)", "app": "\(settings.id)", "socket_id": "\(socketID)", "channel": "\(channel)",
        ])
    }

    private func refuseSignature(_ channel: String, on socket: WebSocketConnection) {
        connection.loop.metrics.countAuthFailure("pusher_bad_signature")
        refuse(channel, type: "AuthError", "Invalid signature", status: 401, on: socket)
    }

    private func refuse(_ channel: String, type: String, _ error: String, status: Int, on socket: WebSocketConnection) {
        route.logger.debug("pusher subscription refused", metadata: [
            "ip": "\(clientIP)", "app": "\(settings.id)", "channel": "\(channel.prefix(200))", "reason": "\(error)",
        ])
        socket.send(PusherFrames.subscriptionError(channel: channel, type: type, error: error, status: status))
    }

    private func unsubscribe(_ channel: String) {
        guard let subscriber = channels.removeValue(forKey: channel) else { return }
        route.shard.remove(subscriber)
        forget(subscriber)
    }

    /// The node's bookkeeping for a channel this socket left (already out of the shard's index).
    /// Any `member_removed` goes out from the node's announcements on a later turn: a close
    /// can happen inside a delivery (a slow consumer), which must not nest another.
    private func forget(_ subscriber: PusherChannelSubscriber) {
        route.node.unsubscribed(app: app, channel: subscriber.channel)
        if let userID = subscriber.presenceUserID { route.node.leave(app: app, channel: subscriber.channel, userID: userID) }
    }

    // MARK: - Sign-in and client events

    private func signIn(auth: String, userData: String, on socket: WebSocketConnection) {
        let app = route.node.apps[self.app]
        guard app.signer.isAuth(auth, key: app.key, of: "\(socketID)::user::\(userData)"), let user = SigninUserData(userData) else {
            connection.loop.metrics.countAuthFailure("pusher_bad_signature")
            socket.send(PusherFrames.errorMessage(code: PusherCode.unauthorized, "Invalid signature for pusher:signin"))
            return
        }
        guard !user.watchlistTooLong else {
            socket.send(PusherFrames.errorMessage(
                code: PusherCode.watchlistLimit, "A watchlist holds at most \(SigninUserData.maxWatchlist) user ids"))
            return
        }
        // The same user again keeps their sign-in (no offline and online for their watchers).
        if let previous = signedInUser, previous != user.id { route.node.signedOut(app: self.app, userID: previous, at: address) }
        signedInUser = user.id
        socket.send(PusherFrames.signinSuccess(userData: userData))
        let watchlist = app.settings.enableWatchlist ? user.watchlist ?? [] : []
        let (online, version) = route.node.signedIn(app: self.app, userID: user.id, at: address, watching: watchlist)
        watchlistVersion = version
        if !online.isEmpty { socket.send(PusherFrames.watchlistEvent(online: true, userIDs: online)) }
    }

    private func clientEvent(_ name: String, channel: String, data: [UInt8], on socket: WebSocketConnection) {
        guard settings.enableClientEvents else {
            socket.send(PusherFrames.errorMessage(code: nil, "Client events are not enabled for this app"))
            return
        }
        guard let subscriber = channels[channel], let kind = PusherChannelKind(name: channel), kind == .private || kind == .presence else {
            socket.send(PusherFrames.errorMessage(code: nil, "Client events need a subscribed private or presence channel"))
            return
        }
        guard !PusherChannelKind.isEncrypted(channel) else {
            socket.send(PusherFrames.errorMessage(code: nil, "Client events are not supported on encrypted channels"))
            return
        }
        guard data.count <= settings.maxMessageBytes, name.utf8.count <= 200 else {
            socket.send(PusherFrames.errorMessage(code: nil, "Client event too large"))
            return
        }
        let now = connection.loop.now
        var bucket = clientEvents ?? TokenBucket(rate: Self.clientEventsPerSecond, burst: Self.clientEventsPerSecond, now: now)
        let allowed = bucket.take(now: now)
        clientEvents = bucket
        guard allowed else {
            socket.send(PusherFrames.errorMessage(code: PusherCode.clientEventRateLimit, "Client event rate limit exceeded"))
            return
        }
        let message = PusherFrames.event(name: name, channel: channel, data: data, userID: subscriber.presenceUserID)
        route.broker.broadcastEvent(topic: subscriber.topic, payload: JSONPayload(validatedBytes: message), excludedSocket: socketID)
        route.node.hookClientEvent(app: app, channel: channel, event: name, data: data, socketID: socketID, userID: subscriber.presenceUserID)
    }

    // MARK: - Endings

    /// Closes with `pusher:error` and the same close code.
    func end(code: UInt16, _ message: String) {
        guard let socket else { return }
        let (preface, close) = PusherFrames.fatal(code: code, message)
        socket.close(code: code, preface: [preface], closeFrame: close)
    }

    override func tooSlow() {
        connection.discardUnstartedFrames()
        end(code: PusherCode.overCapacity, "Too slow: the connection could not keep up")
    }

    override func goAway() {
        end(code: PusherCode.reconnect, "Server shutting down")
    }

    /// `pusher:ping`, which every Pusher client answers with `pusher:pong` (browsers answer a
    /// WebSocket ping too, but pusher-js cannot see it, and other clients may not answer it).
    func pingDue(_ socket: WebSocketConnection) {
        socket.send(route.frames.ping)
    }

    func idleTimedOut(_ socket: WebSocketConnection) {
        end(code: PusherCode.pongNotReceived, "Pong reply not received in time")
    }

    func closed(_ socket: WebSocketConnection) {
        self.socket = nil
        route.logger.debug("pusher client disconnected", metadata: [
            "ip": "\(clientIP)", "app": "\(settings.id)", "socket_id": "\(socketID)", "channels": "\(channels.count)",
        ])
        // Out of the index first, every channel: nothing more may be queued behind the close.
        for subscriber in channels.values { route.shard.remove(subscriber) }
        for subscriber in channels.values { forget(subscriber) }
        channels = [:]
        if let user = signedInUser { route.node.signedOut(app: app, userID: user, at: address) }
        route.sessions.removeValue(forKey: socketID)
        route.node.disconnect(app: app)
        route.shard.remove(self)
    }
}

/// A socket's subscription to one channel: what the shard's index holds for the channel.
final class PusherChannelSubscriber: Subscriber {
    unowned(unsafe) let session: PusherSession
    let channel: String
    /// On presence channels, the member this subscription made.
    let presenceUserID: String?
    /// The announcement its `subscription_succeeded` roster showed (`PusherNode.State.version`).
    let rosterVersion: UInt64

    init(session: PusherSession, channel: String, topic: TopicName, presenceUserID: String?, rosterVersion: UInt64) {
        self.session = session
        self.channel = channel
        self.presenceUserID = presenceUserID
        self.rosterVersion = rosterVersion
        super.init(connection: session.connection, format: session.format, topic: topic, clientIP: session.clientIP)
    }

    override var transportName: String { PusherTransport.name }
    override var isCountedInStatistics: Bool { false }

    /// The shard unsubscribed this channel; the whole socket goes.
    override func tooSlow() { session.tooSlow() }
    override func goAway() {}
}
