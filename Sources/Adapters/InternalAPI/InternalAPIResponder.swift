// The internal API (docs/protocol.md "Internal API"): register, unregister, publish (push), status.
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

    /// The answers that are not in the plain-answer table, built once.
    struct Canned {
        let ok = CannedResponse { HTTPResponse.encode(.ok, keepAlive: $0) }
        let postOnly = CannedResponse {
            HTTPResponse.text(.methodNotAllowed, PlainAnswer.methodNotAllowed.text, keepAlive: $0, extraHeaders: [("Allow", "POST")])
        }
        let getOnly = CannedResponse {
            HTTPResponse.text(.methodNotAllowed, PlainAnswer.methodNotAllowed.text, keepAlive: $0, extraHeaders: [("Allow", "GET")])
        }
        /// Upstream's `/readyz` answers `ok` without a line end (Go's `w.Write`), and its 503
        /// with one (`http.Error`), which the plain-answer table gives.
        let readyz = CannedResponse {
            HTTPResponse.encode(.ok, contentType: "text/plain; charset=utf-8", body: Array("ok".utf8), keepAlive: $0)
        }
        let readyzHead = CannedResponse { HTTPResponse.headOnly(.ok, contentType: "text/plain; charset=utf-8", bodyLength: 2, keepAlive: $0) }
        let shuttingDownHead = CannedResponse {
            HTTPResponse.headOnly(
                .serviceUnavailable, contentType: "text/plain; charset=utf-8", bodyLength: PlainAnswer.shuttingDown.text.utf8.count + 1,
                keepAlive: $0)
        }
        let notConnectedHead = CannedResponse {
            HTTPResponse.headOnly(
                .serviceUnavailable, contentType: "text/plain; charset=utf-8", bodyLength: PlainAnswer.redisNotConnected.text.utf8.count + 1,
                keepAlive: $0)
        }
    }

    private let registry: MetricsRegistry?
    private let rules: TopicRules
    private let shard: SubscriberShard?
    /// Shutting down: the node takes no new subscriber, so a load balancer must stop sending them.
    private var draining: Bool { shard?.draining == true }
    /// Routes the transports add to the internal port; anything else is 404.
    public let routes: Router?

    /// - Parameters:
    ///   - registry: answers `GET /metrics`; nil leaves the route out.
    ///   - rules: shown per registered topic in `/internal/status` with the topic lists.
    ///   - shard: its loop's subscribers; while they drain, the readiness probes answer 503.
    public init(
        broker: Broker, secret: SharedSecret, registry: MetricsRegistry? = nil, routes: Router? = nil, rules: TopicRules = TopicRules(),
        shard: SubscriberShard? = nil, logger: Logger
    ) {
        self.routes = routes
        self.shard = shard
        self.rules = rules
        self.broker = broker
        self.secret = secret
        self.registry = registry
        self.logger = logger
        self.canned = Canned()
    }

    private enum Route {
        case register, unregister, publish, batch, status, ready
    }

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let keepAlive = request.head.keepAlive
        let head = request.head
        let route: Route
        if head.pathIs("/internal/publish") || head.pathIs("/internal/push") {
            route = .publish
        } else if head.pathIs("/internal/batch") {
            route = .batch
        } else if head.pathIs("/internal/register") {
            route = .register
        } else if head.pathIs("/internal/unregister") {
            route = .unregister
        } else if head.pathIs("/internal/status") {
            route = .status
        } else if head.pathIs("/internal/ready") {
            route = .ready
        } else if head.pathIs("/readyz") {
            // Upstream 0.3.0's readiness probe: any method, no secret (Kubernetes sends none).
            if draining {
                guard head.method == .head else { return PlainAnswers.respond(.shuttingDown, keepAlive: keepAlive) }
                return .respond(canned.shuttingDownHead.frame(keepAlive: keepAlive), keepAlive: keepAlive)
            }
            let ready = broker.reportStatus.clusterLinkUp ?? true
            if head.method == .head {
                return .respond((ready ? canned.readyzHead : canned.notConnectedHead).frame(keepAlive: keepAlive), keepAlive: keepAlive)
            }
            guard ready else { return PlainAnswers.respond(.redisNotConnected, keepAlive: keepAlive) }
            return .respond(canned.readyz.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        } else if head.pathIs("/metrics"), let registry {
            // No secret: Prometheus scrapes it, and the internal port is private (docs/adr/0010).
            guard head.method == .get else { return .respond(canned.getOnly.frame(keepAlive: keepAlive), keepAlive: keepAlive) }
            return .deferred { reply in
                registry.scrape { text in
                    let answer = HTTPResponse.encode(.ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8), keepAlive: keepAlive)
                    reply.resume { .respond(answer, keepAlive: keepAlive) }
                }
            }
        } else if let routes, !routes.isEmpty {
            // The transports' own APIs (Pusher's /apps/...), which carry their own authentication.
            return routes.respond(to: request, from: connection)
        } else {
            return PlainAnswers.respond(.notFound, keepAlive: keepAlive)
        }
        let expected: HTTPMethod = route == .status || route == .ready ? .get : .post
        guard request.head.method == expected else {
            let answer = expected == .get ? canned.getOnly : canned.postOnly
            return .respond(answer.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        }
        guard let presented = request.head.headers.workerSecret, secret.matches(presented) else {
            logger.info("internal request forbidden", metadata: ["ip": "\(connection.peerHost)", "path": "\(request.head.path.prefix(256))"])
            return PlainAnswers.respond(.forbidden, keepAlive: keepAlive)
        }
        let answer: EncodedFrame
        switch route {
        case .register:
            switch readRegistration(request.body) {
            case .failure(let refusal): answer = PlainAnswers.frame(refusal.answer, keepAlive: keepAlive)
            case .success(let (topic, meta)):
                // Answered once every node can see the topic (in a cluster: after Redis acknowledged it).
                let ok = canned.ok.frame(keepAlive: keepAlive)
                return .deferred { [broker] reply in
                    broker.registerTopic(topic, meta: meta) { reply.resume { .respond(ok, keepAlive: keepAlive) } }
                }
            }
        case .unregister: answer = unregister(request.body).map { PlainAnswers.frame($0, keepAlive: keepAlive) } ?? canned.ok.frame(keepAlive: keepAlive)
        case .publish: answer = publish(request.body, counting: connection.loop.metrics, keepAlive: keepAlive)
        case .batch: answer = publishBatch(request.body, counting: connection.loop.metrics, keepAlive: keepAlive)
        case .ready:
            // Extension for load balancers: 503 while the cluster link is down.
            let connected = broker.reportStatus.clusterLinkUp ?? true
            answer = PlainAnswers.frame(draining ? .shuttingDown : connected ? .ready : .redisUnavailable, keepAlive: keepAlive)
        case .status:
            let lists = request.head.queryValue("topics").map { $0 != "0" && $0 != "false" } ?? true
            let report = broker.reportStatus(includeTopicLists: lists)
            var extensions = registry?.statusMembers ?? []
            if let topics = report.registeredTopics, !rules.isEmpty { extensions.append(StatusJSON.topicRules(rules, of: topics)) }
            let body = StatusJSON.encode(report, extensions: extensions)
            answer = HTTPResponse.encode(.ok, contentType: "application/json", body: body, keepAlive: keepAlive)
        }
        return .respond(answer, keepAlive: keepAlive)
    }

    /// Every internal route reads only named fields.
    public var readsAnyField: Bool { false }

    public func reject(_ error: HTTPParseError) -> EncodedFrame {
        PlainAnswers.rejection(error)
    }

    // MARK: - Routes

    private func readRegistration(_ body: [UInt8]) -> Result<(TopicName, TopicMeta), AnswerError> {
        body.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer) else { return .failure(AnswerError(.badRequest)) }
            let topic: TopicName
            switch readTopic(object) {
            case .success(let name): topic = name
            case .failure(let answer): return .failure(answer)
            }
            var meta = TopicMeta.secureDefault
            if let field = object["meta"], field.kind != .null {
                guard field.kind == .object else { return .failure(AnswerError(.badRequest)) }
                let metaBytes = UnsafeBufferPointer(rebasing: buffer[field.valueRange])
                guard let metaObject = try? JSONObjectFields(metaBytes) else { return .failure(AnswerError(.badRequest)) }
                if let requireToken = metaObject["require_token"], requireToken.kind != .null {
                    guard let value = metaObject.bool(requireToken) else { return .failure(AnswerError(.badRequest)) }
                    meta.requireToken = value
                }
            }
            return .success((topic, meta))
        }
    }

    /// nil when unregistered; otherwise the refusal.
    private func unregister(_ body: [UInt8]) -> PlainAnswer? {
        body.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer) else { return .badRequest }
            switch readTopic(object) {
            case .success(let topic):
                broker.unregisterTopic(topic)
                return nil
            case .failure(let refusal):
                return refusal.answer
            }
        }
    }

    /// `200` when published to every topic; otherwise the refusal.
    private func publish(_ body: [UInt8], counting metrics: LoopMetrics, keepAlive: Bool) -> EncodedFrame {
        let read = body.withUnsafeBufferPointer { PublishBody.readTargets($0) }
        switch read {
        case .failure(let refusal):
            return PlainAnswers.frame(answer(for: refusal), keepAlive: keepAlive)
        case .success((.one(let topic), let payload)):
            do throws(PublishError) {
                try broker.publishEvent(topic: topic, payload: payload)
                metrics.publishes &+= 1
                return canned.ok.frame(keepAlive: keepAlive)
            } catch {
                switch error {
                case .topicNotRegistered: return PlainAnswers.frame(.topicNotRegistered, keepAlive: keepAlive)
                }
            }
        case .success((.many(let topics), let payload)):
            return publishAll(topics.map { ($0, payload) }, counting: metrics, keepAlive: keepAlive)
        }
    }

    /// `POST /internal/batch`: every element checked first, then each published in order.
    private func publishBatch(_ body: [UInt8], counting metrics: LoopMetrics, keepAlive: Bool) -> EncodedFrame {
        let read = body.withUnsafeBufferPointer { BatchBody.read($0) }
        switch read {
        case .success(let messages):
            return publishAll(messages, counting: metrics, keepAlive: keepAlive)
        case .failure(let failure):
            let plain = answer(for: failure.refusal)
            guard let index = failure.index else { return PlainAnswers.frame(plain, keepAlive: keepAlive) }
            // Which element, so the backend can find it in a list of a hundred.
            let json = #"{"error":\#(JSONWriter.quoted(plain.text)),"index":\#(index)}"#
            return HTTPResponse.encode(plain.status, contentType: "application/json", body: Array(json.utf8), keepAlive: keepAlive)
        }
    }

    /// Publishes each message whose topic is registered; `200`, or `404` with the unknown
    /// topics in JSON (the known ones went out all the same).
    private func publishAll(_ messages: [(topic: TopicName, payload: JSONPayload)], counting metrics: LoopMetrics, keepAlive: Bool) -> EncodedFrame {
        var unknown: [TopicName] = []
        for (topic, payload) in messages {
            do throws(PublishError) {
                try broker.publishEvent(topic: topic, payload: payload)
                metrics.publishes &+= 1
            } catch {
                unknown.append(topic)
            }
        }
        guard !unknown.isEmpty else { return canned.ok.frame(keepAlive: keepAlive) }
        let list = unknown.map { JSONWriter.quoted($0.value) }.joined(separator: ",")
        let json = #"{"error":"topic not registered","unknown_topics":[\#(list)],"published":\#(messages.count - unknown.count)}"#
        return HTTPResponse.encode(.notFound, contentType: "application/json", body: Array(json.utf8), keepAlive: keepAlive)
    }

    private func readTopic(_ object: JSONObjectFields) -> Result<TopicName, AnswerError> {
        PublishBody.topic(in: object).mapError { AnswerError(answer(for: $0)) }
    }

    private func answer(for refusal: BodyRefusal) -> PlainAnswer {
        switch refusal {
        case .badRequest: .badRequest
        case .missingTopic: .missingTopic
        case .missingPayload: .missingPayload
        case .tooManyTopics: .tooManyTopics
        case .tooLarge: .payloadTooLarge
        }
    }
}

/// A plain answer carried through `Result`.
struct AnswerError: Error {
    let answer: PlainAnswer
    init(_ answer: PlainAnswer) { self.answer = answer }
}
