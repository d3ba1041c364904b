// `/sse` on one loop: admission, the token from the header or the query, then the stream.
public import Application
public import Domain
public import Logging

/// Answers `GET /sse` and its CORS preflight on one loop, and beats every stream's heartbeat.
final class SSERoute: RouteHandler, TopicRoute {
    let transport: SSETransport
    let context: TransportContext
    /// Open streams of this loop, for the heartbeat: one timer per loop, not one per stream.
    private var streams: [ObjectIdentifier: SSEStream] = [:]

    init(transport: SSETransport, context: TransportContext) {
        self.transport = transport
        self.context = context
    }

    func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        if request.head.method == .options { return preflight(request.head) }
        return context.admission.admitTopic(request, from: connection, to: self)
    }

    /// Admission after the topic, the token, then the stream.
    func answer(_ request: HTTPRequest, topic: TopicName, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        let keepAlive = head.keepAlive
        let clientIP: String
        switch context.admission.admit(head, from: connection, shard: context.shard, originRequired: false) {
        case .failure(let refusal): return PlainAnswers.respond(refusal, keepAlive: keepAlive && !refusal.endsConnection)
        case .success(let address): clientIP = address
        }
        let stream = SSEStream(connection: connection, topic: topic, clientIP: clientIP, route: self)
        switch context.shard.authenticate(stream, message: .auth(token: Self.token(of: head))) {
        case .success(let subscription):
            let limit = connection.queueLimit
            stream.resumption = context.shard.resume(
                topic, since: Self.lastEventID(of: head), room: (limit.frames / 2, limit.bytes / 2), in: stream.format)
            context.shard.admit(stream)
            streams[ObjectIdentifier(stream)] = stream
            context.logger.debug("client subscribed", metadata: [
                "ip": "\(clientIP)", "topic": "\(topic.value)", "user_id": "\(subscription.userID)",
                "conn.id": "\(connection.id)", "transport": "sse",
            ])
            let origin = head.headers.origin.flatMap { context.admission.allowsCrossOrigin($0) ? $0 : nil }
            return .upgrade(transport.frames.head(origin: origin), stream)
        case .failure(let failure):
            let answer: PlainAnswer
            switch failure {
            case .authRequired: answer = .authRequired
            case .unauthorized: answer = .unauthorized
            case .topicNotRegistered: answer = .topicNotRegistered
            }
            context.logger.info("client unauthorized", metadata: [
                "ip": "\(clientIP)", "topic": "\(topic.value)", "reason": "\(failure.reason)", "transport": "sse",
            ])
            return PlainAnswers.respond(answer, keepAlive: keepAlive)
        }
    }

    /// `Authorization: Bearer <token>`, else `?token=` (what `EventSource`, which cannot set
    /// headers, has to use; such URLs end up in proxy logs, see docs/sse.md).
    static func token(of head: HTTPRequestHead) -> String? {
        let bearer: String?? = head.headers.fields.withValue(of: "authorization") { value -> String? in
            guard value.count > 7, ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: value[0..<7]), "bearer ") else { return nil }
            return String(decoding: ASCII.trim(UnsafeRawBufferPointer(rebasing: value[7...])), as: UTF8.self)
        }
        if let bearer = bearer ?? nil { return bearer }
        return head.queryValue("token")
    }

    /// `Last-Event-ID` (what `EventSource` sends when it reconnects), else `?lastEventId=` for
    /// proxies that drop the header; empty means none. Cut at a length no position has.
    static func lastEventID(of head: HTTPRequestHead) -> [UInt8]? {
        let limit = StreamPosition.maxTextLength + 1
        let header: [UInt8]?? = head.headers.fields.withValue(of: "last-event-id") { value -> [UInt8]? in
            let trimmed = ASCII.trim(value)
            return trimmed.isEmpty ? nil : Array(trimmed.prefix(limit))
        }
        if let header = header ?? nil { return header }
        guard let query = head.queryValue("lastEventId"), !query.isEmpty else { return nil }
        return Array(query.utf8.prefix(limit))
    }

    /// CORS preflight for `fetch`-based clients that send `Authorization` cross-origin.
    private func preflight(_ head: HTTPRequestHead) -> HTTPResponderAction {
        let keepAlive = head.keepAlive
        guard let origin = head.headers.origin, context.admission.allowsCrossOrigin(origin) else {
            return PlainAnswers.respond(.forbidden, keepAlive: keepAlive)
        }
        let answer = HTTPResponse.encode(.noContent, keepAlive: keepAlive, extraHeaders: [
            ("Access-Control-Allow-Origin", origin), ("Vary", "Origin"), ("Access-Control-Allow-Methods", "GET"),
            ("Access-Control-Allow-Headers", "Authorization, Last-Event-ID, Cache-Control"), ("Access-Control-Max-Age", "600"),
        ])
        return .respond(answer, keepAlive: keepAlive)
    }

    // MARK: - Streams

    func streamEnded(_ stream: SSEStream) {
        streams.removeValue(forKey: ObjectIdentifier(stream))
    }

    /// One timer per loop writes the shared heartbeat to every stream. O(streams) every interval.
    func startHeartbeat() {
        context.loop.schedule(after: transport.settings.heartbeatInterval) { [weak self] _ in
            guard let self else { return }
            let heartbeat = self.transport.frames.heartbeat
            for stream in Array(self.streams.values) { self.context.shard.send(heartbeat, to: stream) }
            self.startHeartbeat()
        }
    }
}
