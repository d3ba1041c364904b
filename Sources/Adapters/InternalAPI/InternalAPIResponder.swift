// The internal API of PROTOCOL.md: register, unregister, publish (push), status.
public import Application
public import Domain
public import Logging

/// Answers the backend's requests on the internal listener. Checks, in order: the route, the
/// method (405 with `Allow`), the secret in constant time (403), then the body.
public final class InternalAPIResponder: HTTPResponder {
    private let broker: Broker
    private let secret: SharedSecret
    private let logger: Logger
    private let canned: Canned

    /// Every constant answer, built once.
    struct Canned {
        let ok = CannedResponse { HTTPResponse.encode(.ok, keepAlive: $0) }
        let forbidden = CannedResponse { HTTPResponse.text(.forbidden, "forbidden", keepAlive: $0) }
        let notFound = CannedResponse { HTTPResponse.text(.notFound, "not found", keepAlive: $0) }
        let postOnly = CannedResponse { HTTPResponse.text(.methodNotAllowed, "method not allowed", keepAlive: $0, extraHeaders: [("Allow", "POST")]) }
        let getOnly = CannedResponse { HTTPResponse.text(.methodNotAllowed, "method not allowed", keepAlive: $0, extraHeaders: [("Allow", "GET")]) }
        let badRequest = CannedResponse { HTTPResponse.text(.badRequest, "bad request", keepAlive: $0) }
        let missingTopic = CannedResponse { HTTPResponse.text(.badRequest, "missing topic", keepAlive: $0) }
        let missingPayload = CannedResponse { HTTPResponse.text(.badRequest, "missing payload", keepAlive: $0) }
        let topicNotRegistered = CannedResponse { HTTPResponse.text(.notFound, "topic not registered", keepAlive: $0) }
        let ready = CannedResponse { HTTPResponse.text(.ok, "ready", keepAlive: $0) }
        let notReady = CannedResponse { HTTPResponse.text(.serviceUnavailable, "redis unavailable", keepAlive: $0) }
        let payloadTooLarge = HTTPResponse.text(.payloadTooLarge, "payload too large", keepAlive: false)
        let headersTooLarge = HTTPResponse.text(.headersTooLarge, "request header fields too large", keepAlive: false)
        let badRequestClose = HTTPResponse.text(.badRequest, "bad request", keepAlive: false)
        let versionNotSupported = HTTPResponse.text(.versionNotSupported, "http version not supported", keepAlive: false)
    }

    public init(broker: Broker, secret: SharedSecret, logger: Logger) {
        self.broker = broker
        self.secret = secret
        self.logger = logger
        self.canned = Canned()
    }

    private enum Route {
        case register, unregister, publish, status, ready
    }

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let keepAlive = request.head.keepAlive
        let head = request.head
        let route: Route
        if head.pathIs("/internal/publish") || head.pathIs("/internal/push") {
            route = .publish
        } else if head.pathIs("/internal/register") {
            route = .register
        } else if head.pathIs("/internal/unregister") {
            route = .unregister
        } else if head.pathIs("/internal/status") {
            route = .status
        } else if head.pathIs("/internal/ready") {
            route = .ready
        } else {
            return .respond(canned.notFound.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        }
        let expected: HTTPMethod = route == .status || route == .ready ? .get : .post
        guard request.head.method == expected else {
            let answer = expected == .get ? canned.getOnly : canned.postOnly
            return .respond(answer.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        }
        guard let presented = request.head.headers.workerSecret, secret.matches(presented) else {
            logger.info("internal request forbidden", metadata: ["ip": "\(connection.peerHost)", "path": "\(request.head.path.prefix(256))"])
            return .respond(canned.forbidden.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        }
        let answer: EncodedFrame
        switch route {
        case .register:
            switch readRegistration(request.body) {
            case .failure(let refusal): answer = refusal.response.frame(keepAlive: keepAlive)
            case .success(let (topic, meta)):
                // Answered once every node can see the topic (in a cluster: after Redis acknowledged it).
                let ok = canned.ok.frame(keepAlive: keepAlive)
                return .deferred { [broker] reply in
                    broker.registerTopic(topic, meta: meta) { reply.resume { .respond(ok, keepAlive: keepAlive) } }
                }
            }
        case .unregister: answer = unregister(request.body).frame(keepAlive: keepAlive)
        case .publish: answer = publish(request.body).frame(keepAlive: keepAlive)
        case .ready:
            // Extension for load balancers: 503 while the cluster link is down.
            let connected = broker.reportStatus(includeTopicLists: false).clusterConnected ?? true
            answer = connected ? canned.ready.frame(keepAlive: keepAlive) : canned.notReady.frame(keepAlive: keepAlive)
        case .status:
            let lists = request.head.queryValue("topics").map { $0 != "0" && $0 != "false" } ?? true
            let body = StatusJSON.encode(broker.reportStatus(includeTopicLists: lists))
            answer = HTTPResponse.encode(.ok, contentType: "application/json", body: body, keepAlive: keepAlive)
        }
        return .respond(answer, keepAlive: keepAlive)
    }

    public func reject(_ error: HTTPParseError) -> EncodedFrame {
        switch error {
        case .payloadTooLarge: return canned.payloadTooLarge
        case .headersTooLarge: return canned.headersTooLarge
        case .versionNotSupported: return canned.versionNotSupported
        case .badRequest: return canned.badRequestClose
        }
    }

    // MARK: - Routes

    private func readRegistration(_ body: [UInt8]) -> Result<(TopicName, TopicMeta), AnswerError> {
        body.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer) else { return .failure(AnswerError(canned.badRequest)) }
            let topic: TopicName
            switch readTopic(object) {
            case .success(let name): topic = name
            case .failure(let answer): return .failure(answer)
            }
            var meta = TopicMeta.secureDefault
            if let field = object["meta"], field.kind != .null {
                guard field.kind == .object else { return .failure(AnswerError(canned.badRequest)) }
                let metaBytes = UnsafeBufferPointer(rebasing: buffer[field.valueRange])
                guard let metaObject = try? JSONObjectFields(metaBytes) else { return .failure(AnswerError(canned.badRequest)) }
                if let requireToken = metaObject["require_token"], requireToken.kind != .null {
                    guard let value = metaObject.bool(requireToken) else { return .failure(AnswerError(canned.badRequest)) }
                    meta.requireToken = value
                }
            }
            return .success((topic, meta))
        }
    }

    private func unregister(_ body: [UInt8]) -> CannedResponse {
        body.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer) else { return canned.badRequest }
            switch readTopic(object) {
            case .success(let topic):
                broker.unregisterTopic(topic)
                return canned.ok
            case .failure(let answer):
                return answer.response
            }
        }
    }

    private func publish(_ body: [UInt8]) -> CannedResponse {
        body.withUnsafeBufferPointer { buffer in
            let topic: TopicName
            let payload: JSONPayload
            switch PublishBody.read(buffer) {
            case .success(let read): (topic, payload) = read
            case .failure(let refusal): return answer(for: refusal)
            }
            do throws(PublishError) {
                try broker.publishEvent(topic: topic, payload: payload)
                return canned.ok
            } catch {
                switch error {
                case .topicNotRegistered: return canned.topicNotRegistered
                }
            }
        }
    }

    private func readTopic(_ object: JSONObjectFields) -> Result<TopicName, AnswerError> {
        PublishBody.topic(in: object).mapError { AnswerError(answer(for: $0)) }
    }

    private func answer(for refusal: BodyRefusal) -> CannedResponse {
        switch refusal {
        case .badRequest: canned.badRequest
        case .missingTopic: canned.missingTopic
        case .missingPayload: canned.missingPayload
        }
    }
}

/// A canned answer carried through `Result`.
struct AnswerError: Error {
    let response: CannedResponse
    init(_ response: CannedResponse) { self.response = response }
}
