// Every plain-text answer of the worker, its status and its body, in one table.

/// A refusal or short answer with a plain-text body (`text/plain; charset=utf-8`, the text and a
/// newline), the form the Wavelog protocol uses for every error on both ports.
public enum PlainAnswer: Int, CaseIterable, Sendable, Error {
    case badRequest, missingTopic, missingPayload, authRequired, unauthorized, forbidden, notFound,
        topicNotRegistered, methodNotAllowed, requestTimeout, payloadTooLarge, upgradeRequired,
        headersTooLarge, shuttingDown, redisUnavailable, redisNotConnected, versionNotSupported, ready,
        serverFull, tooManyConnections, tooManyRequests, tooManyTopics

    /// The table: status and body text of each answer.
    public var status: HTTPStatus {
        switch self {
        case .badRequest, .missingTopic, .missingPayload, .tooManyTopics: .badRequest
        case .authRequired, .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound, .topicNotRegistered: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .requestTimeout: .requestTimeout
        case .payloadTooLarge: .payloadTooLarge
        case .upgradeRequired: .upgradeRequired
        case .headersTooLarge: .headersTooLarge
        case .shuttingDown, .redisUnavailable, .redisNotConnected, .serverFull: .serviceUnavailable
        case .tooManyConnections, .tooManyRequests: .tooManyRequests
        case .versionNotSupported: .versionNotSupported
        case .ready: .ok
        }
    }

    public var text: String {
        switch self {
        case .badRequest: "bad request"
        case .missingTopic: "missing topic"
        case .missingPayload: "missing payload"
        case .authRequired: "auth required"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .notFound: "not found"
        case .topicNotRegistered: "topic not registered"
        case .methodNotAllowed: "method not allowed"
        case .requestTimeout: "request timeout"
        case .payloadTooLarge: "payload too large"
        case .upgradeRequired: "upgrade required"
        case .headersTooLarge: "request header fields too large"
        case .shuttingDown: "shutting down"
        case .redisUnavailable: "redis unavailable"
        case .redisNotConnected: "redis not connected"
        case .versionNotSupported: "http version not supported"
        case .ready: "ready"
        case .serverFull: "server full"
        case .tooManyConnections: "too many connections"
        case .tooManyRequests: "too many requests"
        case .tooManyTopics: "too many topics"
        }
    }

    /// Refusals after which the connection is closed whatever the client asked: the node is
    /// going away or full, or the client is over its limits, so its descriptor is better freed.
    public var endsConnection: Bool {
        switch self {
        case .shuttingDown, .serverFull, .tooManyConnections, .tooManyRequests: true
        default: false
        }
    }

    /// The answer to a request the parser refused.
    public init(_ error: HTTPParseError) {
        switch error {
        case .payloadTooLarge: self = .payloadTooLarge
        case .headersTooLarge: self = .headersTooLarge
        case .versionNotSupported: self = .versionNotSupported
        case .badRequest: self = .badRequest
        }
    }
}

/// Every plain answer, encoded once for each connection mode (docs/development.md "Encode once").
public enum PlainAnswers {
    private static let table: [CannedResponse] = PlainAnswer.allCases.map { answer in
        CannedResponse { keepAlive in
            let extra: [(String, String)] = answer == .upgradeRequired ? [("Sec-WebSocket-Version", "13")] : []
            return HTTPResponse.text(answer.status, answer.text, keepAlive: keepAlive, extraHeaders: extra)
        }
    }

    /// The shared frame of `answer`.
    public static func frame(_ answer: PlainAnswer, keepAlive: Bool) -> EncodedFrame {
        table[answer.rawValue].frame(keepAlive: keepAlive)
    }

    /// `answer` as a responder action; a connection that was not kept alive closes after it.
    public static func respond(_ answer: PlainAnswer, keepAlive: Bool) -> HTTPResponderAction {
        .respond(frame(answer, keepAlive: keepAlive), keepAlive: keepAlive)
    }

    /// The answer to a request the parser refused; it always closes the connection.
    public static func rejection(_ error: HTTPParseError) -> EncodedFrame {
        frame(PlainAnswer(error), keepAlive: false)
    }
}
