// The Pusher HTTP API: trigger events, query channels and users, terminate a user's connections.
internal import Application
internal import Domain
internal import Glibc
internal import CLinux
internal import Logging

/// `/apps/{id}/...` and `/users/{id}/terminate_connections` (the path the Python SDK signs), as
/// the Pusher REST API defines them. Every answer is JSON: the SDKs parse even a success.
final class PusherAPIRoute: RouteHandler {
    static let maxChannelsPerEvent = 100
    static let maxBatch = 10

    let node: PusherNode
    let broker: Broker
    let logger: Logger
    unowned(unsafe) let route: PusherRoute

    init(route: PusherRoute) {
        self.route = route
        node = route.node
        broker = route.broker
        logger = route.logger
    }

    func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        switch handle(request, on: connection) {
        case .success(let body):
            return .respond(Self.json(200, body, keepAlive: head.keepAlive), keepAlive: head.keepAlive)
        case .failure(let error):
            connection.loop.metrics.countRefusal("pusher_api_\(error.status)")
            let body = #"{"error":"# + JSONWriter.quoted(error.message) + "}"
            return .respond(Self.json(error.status, body, keepAlive: head.keepAlive), keepAlive: head.keepAlive)
        }
    }

    static func json(_ status: Int, _ body: String, keepAlive: Bool) -> EncodedFrame {
        HTTPResponse.encode(HTTPStatus(code: status), contentType: "application/json", body: Array(body.utf8), keepAlive: keepAlive)
    }

    private func handle(_ request: HTTPRequest, on connection: Connection) -> Result<String, PusherAPIError> {
        let head = request.head
        let path = head.path
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()  // "" before the first "/"
        let method = head.method == .post ? "POST" : head.method == .get ? "GET" : "OTHER"
        // /users/{user_id}/terminate_connections: the app is the one whose key signed it.
        if segments.first == "users" {
            guard segments.count == 3, segments.last == "terminate_connections", method == "POST" else { return .failure(notFound) }
            let key = PusherRequestVerifier.parameters(head.query)?.first { $0.key == "auth_key" }?.value
            guard let key, let app = node.app(key: key) else { return .failure(PusherAPIError(status: 401, message: "Unknown auth_key")) }
            return verified(request, app: app).flatMap { _ in terminate(app: app, user: segments[segments.index(after: segments.startIndex)]) }
        }
        guard segments.count >= 3, segments.first == "apps" else { return .failure(notFound) }
        let id = segments[segments.index(after: segments.startIndex)]
        guard let app = node.app(id: id) else { return .failure(PusherAPIError(status: 404, message: "Unknown app id")) }
        let parameters: [String: String]
        switch verified(request, app: app) {
        case .failure(let error): return .failure(error)
        case .success(let read): parameters = read
        }
        let rest = Array(segments.dropFirst(2))
        switch (method, rest.count, rest.first) {
        case ("POST", 1, "events"): return trigger(request.body, app: app, on: connection)
        case ("POST", 1, "batch_events"): return batch(request.body, app: app, on: connection)
        case ("GET", 1, "channels"): return channels(app: app, parameters)
        case ("GET", 2, "channels"): return channel(app: app, name: rest[1], parameters)
        case ("GET", 3, "channels") where rest[2] == "users": return users(app: app, channel: rest[1])
        case ("POST", 3, "users") where rest[2] == "terminate_connections": return terminate(app: app, user: rest[1])
        default: return .failure(notFound)
        }
    }

    private var notFound: PusherAPIError { PusherAPIError(status: 404, message: "Not found") }

    private func verified(_ request: HTTPRequest, app: Int) -> Result<[String: String], PusherAPIError> {
        return PusherRequestVerifier.verify(
            method: request.head.method == .post ? "POST" : "GET", path: request.head.path, query: request.head.query,
            body: request.body, app: node.apps[app], now: broker.clock.unixTime.seconds)
    }

    // MARK: - Events

    /// One event as the API describes it, read from its JSON.
    private struct Event {
        var name: String
        var data: [UInt8]
        var channels: [String]
        var socketID: String?
        var info: String?
    }

    private func readEvent(_ object: JSONObjectFields, app: Int, batch: Bool) -> Result<Event, PusherAPIError> {
        guard let nameField = object["name"], let name = object.string(nameField), !name.isEmpty, name.utf8.count <= 200 else {
            return .failure(PusherAPIError(status: 400, message: "name must be a string of 1 to 200 characters"))
        }
        guard let dataField = object["data"], dataField.kind == .string else {
            return .failure(PusherAPIError(status: 400, message: "data must be a string"))
        }
        let data = object.rawValue(dataField)
        guard data.count - 2 <= node.apps[app].settings.maxMessageBytes else {
            return .failure(PusherAPIError(status: 413, message: "data is over \(node.apps[app].settings.maxMessageBytes) bytes"))
        }
        var channels: [String] = []
        if let channelField = object["channel"] {
            guard let channel = object.string(channelField) else { return .failure(PusherAPIError(status: 400, message: "channel must be a string")) }
            channels = [channel]
        } else if let listField = object["channels"], listField.kind == .array, !batch {
            let elements = (try? JSONReader.arrayElements(UnsafeBufferPointer(rebasing: object.bytes[listField.valueRange]))) ?? []
            for element in elements {
                let range = (element.range.lowerBound + listField.valueRange.lowerBound)..<(element.range.upperBound + listField.valueRange.lowerBound)
                guard element.kind == .string, let channel = Optional(JSONText.unescape(object.bytes, (range.lowerBound + 1)..<(range.upperBound - 1))) else {
                    return .failure(PusherAPIError(status: 400, message: "channels must be a list of strings"))
                }
                channels.append(channel)
            }
        }
        guard !channels.isEmpty, channels.count <= Self.maxChannelsPerEvent else {
            return .failure(PusherAPIError(status: 400, message: "give channel, or 1 to \(Self.maxChannelsPerEvent) channels"))
        }
        for channel in channels where PusherChannelKind(name: channel) == nil {
            return .failure(PusherAPIError(status: 400, message: "Invalid channel name \(channel.prefix(200))"))
        }
        if channels.count > 1, channels.contains(where: PusherChannelKind.isEncrypted) {
            return .failure(PusherAPIError(status: 400, message: "An event for an encrypted channel must name that channel alone"))
        }
        var event = Event(name: name, data: data, channels: channels)
        if let socketField = object["socket_id"] {
            guard let socketID = object.string(socketField), PusherSocketID.isValid(socketID) else {
                return .failure(PusherAPIError(status: 400, message: "socket_id must look like 123.456"))
            }
            event.socketID = socketID
        }
        event.info = object["info"].flatMap { object.string($0) }
        return .success(event)
    }

    /// Publishes `event` on each channel: one message per channel, encoded once for every
    /// subscriber of it on every loop and node. Returns each channel's attributes when `info`
    /// asked for them.
    private func publish(_ event: Event, app: Int, on connection: Connection) -> [(channel: String, info: String)] {
        var info: [(channel: String, info: String)] = []
        for channel in event.channels {
            guard let topic = route.topic(app: app, channel: channel) else { continue }
            let message = PusherFrames.event(name: event.name, channel: channel, data: event.data)
            broker.broadcastEvent(topic: topic, payload: JSONPayload(validatedBytes: message), excludedSocket: event.socketID)
            if PusherChannelKind.isCache(channel) { node.cache(app: app, channel: channel, message: message) }
            connection.loop.metrics.publishes &+= 1
            if let wanted = event.info { info.append((channel, channelInfo(app: app, name: channel, wanted))) }
        }
        return info
    }

    private func trigger(_ body: [UInt8], app: Int, on connection: Connection) -> Result<String, PusherAPIError> {
        body.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer, maxDepth: 16) else { return .failure(PusherAPIError(status: 400, message: "Body must be a JSON object")) }
            return readEvent(object, app: app, batch: false).map { event in
                let info = publish(event, app: app, on: connection)
                guard event.info != nil else { return "{}" }
                return #"{"channels":{"# + info.map { JSONWriter.quoted($0.channel) + ":" + $0.info }.joined(separator: ",") + "}}"
            }
        }
    }

    private func batch(_ body: [UInt8], app: Int, on connection: Connection) -> Result<String, PusherAPIError> {
        body.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer, maxDepth: 16), let listField = object["batch"], listField.kind == .array,
                let elements = try? JSONReader.arrayElements(UnsafeBufferPointer(rebasing: buffer[listField.valueRange]), maxDepth: 16)
            else { return .failure(PusherAPIError(status: 400, message: "Body must be {\"batch\":[...]}")) }
            guard elements.count <= Self.maxBatch else { return .failure(PusherAPIError(status: 400, message: "At most \(Self.maxBatch) events per batch")) }
            // Every event is checked before any is published: a batch is all or nothing.
            var events: [Event] = []
            for element in elements {
                let slice = UnsafeBufferPointer(rebasing: buffer[(element.range.lowerBound + listField.valueRange.lowerBound)..<(element.range.upperBound + listField.valueRange.lowerBound)])
                guard element.kind == .object, let item = try? JSONObjectFields(slice, maxDepth: 16) else {
                    return .failure(PusherAPIError(status: 400, message: "Each batch entry must be an object"))
                }
                switch readEvent(item, app: app, batch: true) {
                case .failure(let error): return .failure(error)
                case .success(let event): events.append(event)
                }
            }
            // With `info`, one attribute object per event, at its index (each has one channel).
            let answers = events.map { publish($0, app: app, on: connection).first?.info ?? "{}" }
            let wantsInfo = events.contains { $0.info != nil }
            return .success(wantsInfo ? #"{"batch":["# + answers.joined(separator: ",") + "]}" : "{}")
        }
    }

    // MARK: - Queries

    private func channelInfo(app: Int, name: String, _ wanted: String) -> String {
        let fields = Set(wanted.split(separator: ","))
        let (subscriptions, users) = node.channel(app: app, name: name)
        var parts: [String] = []
        if fields.contains("subscription_count") { parts.append(#""subscription_count":\#(subscriptions)"#) }
        if fields.contains("user_count"), PusherChannelKind(name: name) == .presence { parts.append(#""user_count":\#(users)"#) }
        return "{" + parts.joined(separator: ",") + "}"
    }

    private func channels(app: Int, _ parameters: [String: String]) -> Result<String, PusherAPIError> {
        let prefix = parameters["filter_by_prefix"] ?? ""
        let wantsUsers = (parameters["info"] ?? "").split(separator: ",").contains("user_count")
        if wantsUsers && !prefix.hasPrefix("presence-") {
            return .failure(PusherAPIError(status: 400, message: "info=user_count needs filter_by_prefix=presence-"))
        }
        let listed = node.channels(app: app, prefix: prefix).map { channel in
            JSONWriter.quoted(channel.name) + ":" + (wantsUsers ? #"{"user_count":\#(channel.users)}"# : "{}")
        }
        return .success(#"{"channels":{"# + listed.joined(separator: ",") + "}}")
    }

    private func channel(app: Int, name: Substring, _ parameters: [String: String]) -> Result<String, PusherAPIError> {
        guard let name = PercentDecoding.decode(name, plusIsSpace: false), let kind = PusherChannelKind(name: name) else {
            return .failure(PusherAPIError(status: 400, message: "Invalid channel name"))
        }
        let fields = Set((parameters["info"] ?? "").split(separator: ","))
        if fields.contains("user_count") && kind != .presence {
            return .failure(PusherAPIError(status: 400, message: "user_count is only for presence channels"))
        }
        let (subscriptions, users) = node.channel(app: app, name: name)
        var body = #"{"occupied":\#(subscriptions > 0 || users > 0)"#
        if fields.contains("subscription_count") { body += #","subscription_count":\#(subscriptions)"# }
        if fields.contains("user_count") { body += #","user_count":\#(users)"# }
        if fields.contains("cache") { body += #","cache":"# + cacheInfo(app: app, name: name) }
        return .success(body + "}")
    }

    /// `{"data":<the cached event's data>,"ttl":<seconds left>}`, or null.
    private func cacheInfo(app: Int, name: String) -> String {
        guard let cached = node.cachedEvent(app: app, channel: name) else { return "null" }
        let data: String? = cached.message.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer), let field = object["data"] else { return nil }
            return String(decoding: object.rawValue(field), as: UTF8.self)
        }
        let ttl = max(0, (cached.expiresAt - node.nowMilliseconds + 999) / 1000)
        return #"{"data":\#(data ?? "null"),"ttl":\#(ttl)}"#
    }

    private func users(app: Int, channel: Substring) -> Result<String, PusherAPIError> {
        guard let name = PercentDecoding.decode(channel, plusIsSpace: false), PusherChannelKind(name: name) == .presence else {
            return .failure(PusherAPIError(status: 400, message: "Users are listed for presence channels only"))
        }
        let ids = node.members(app: app, channel: name)
        return .success(#"{"users":["# + ids.map { #"{"id":"# + JSONWriter.quoted($0) + "}" }.joined(separator: ",") + "]}")
    }

    /// Closes every socket the user signed in on, on every loop of every node, with 4009: a
    /// 42xx code would make pusher-js reconnect and sign in again at once.
    private func terminate(app: Int, user: Substring) -> Result<String, PusherAPIError> {
        guard let userID = PercentDecoding.decode(user, plusIsSpace: false), !userID.isEmpty else {
            return .failure(PusherAPIError(status: 400, message: "Invalid user id"))
        }
        node.terminate(app: app, userID: userID)
        logger.info("pusher user terminated", metadata: ["app": "\(node.apps[app].id)", "user_id": "\(userID.prefix(200))"])
        return .success("{}")
    }
}
