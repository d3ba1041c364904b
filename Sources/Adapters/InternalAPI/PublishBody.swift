// Reading `POST /internal/publish`: the topic (or topics), and the payload exactly as the backend sent it.
public import Application
public import Domain

/// Why a body was refused (docs/protocol.md "Internal API"); the responder answers each with its text.
public enum BodyRefusal: Error, Sendable, Equatable {
    case badRequest, missingTopic, missingPayload, tooManyTopics
    /// The payload times the topics passes `PublishBody.maxFannedOutBytes`.
    case tooLarge
}

/// Where one publish goes: the Go worker's one `topic`, or the extension's `topics` list.
public enum PublishTargets: Sendable, Equatable {
    case one(TopicName)
    /// Distinct names, in the order first listed.
    case many([TopicName])
}

/// The publish body's reading half, public so the micro-benchmarks time this code, not a copy.
public enum PublishBody {
    /// The most topics one request may name (`topics`, or the elements of a batch): one
    /// request's work on the loop stays small.
    public static let maxTopics = 100
    /// The most payload bytes one request may fan out over its topics: each topic's copy is
    /// encoded and, in a cluster, sent to Redis, whose queue is bounded too.
    public static let maxFannedOutBytes = 4 << 20

    public static func read(_ body: UnsafeBufferPointer<UInt8>) -> Result<(topic: TopicName, payload: JSONPayload), BodyRefusal> {
        switch readTargets(body) {
        case .success((.one(let topic), let payload)): .success((topic, payload))
        case .success((.many, _)): .failure(.badRequest)
        case .failure(let refusal): .failure(refusal)
        }
    }

    /// `{"topic":..,"payload":..}`, or `{"topics":[..],"payload":..}`; both names at once is
    /// refused rather than guessed.
    public static func readTargets(_ body: UnsafeBufferPointer<UInt8>) -> Result<(targets: PublishTargets, payload: JSONPayload), BodyRefusal> {
        guard let object = try? JSONObjectFields(body) else { return .failure(.badRequest) }
        let targets: PublishTargets
        if let list = object["topics"], list.kind != .null {
            guard object["topic"] == nil else { return .failure(.badRequest) }
            switch topics(list, in: object) {
            case .success(let names): targets = .many(names)
            case .failure(let refusal): return .failure(refusal)
            }
        } else {
            switch self.topic(in: object) {
            case .success(let name): targets = .one(name)
            case .failure(let refusal): return .failure(refusal)
            }
        }
        // `"payload": null` is a value and is forwarded; only a missing payload is an error.
        guard let payloadField = object["payload"] else { return .failure(.missingPayload) }
        if case .many(let topics) = targets, topics.count * payloadField.valueRange.count > maxFannedOutBytes {
            return .failure(.tooLarge)
        }
        return .success((targets, JSONPayload(validatedBytes: object.rawValue(payloadField))))
    }

    /// The `topic` member every internal route carries.
    static func topic(in object: JSONObjectFields) -> Result<TopicName, BodyRefusal> {
        guard let field = object["topic"], field.kind != .null else { return .failure(.missingTopic) }
        guard let text = object.string(field) else { return .failure(.badRequest) }
        guard !text.isEmpty else { return .failure(.missingTopic) }
        guard let topic = TopicName(text) else { return .failure(.badRequest) }
        return .success(topic)
    }

    /// A `topics` array: 1 to `maxTopics` valid names; any invalid one refuses the whole body.
    private static func topics(_ field: JSONField, in object: JSONObjectFields) -> Result<[TopicName], BodyRefusal> {
        guard field.kind == .array,
            let elements = try? JSONReader.arrayElements(UnsafeBufferPointer(rebasing: object.bytes[field.valueRange]), maxDepth: 2)
        else { return .failure(.badRequest) }
        guard !elements.isEmpty else { return .failure(.missingTopic) }
        guard elements.count <= maxTopics else { return .failure(.tooManyTopics) }
        var names: [TopicName] = []
        var seen = Set<TopicName>()
        let base = field.valueRange.lowerBound
        for element in elements {
            guard element.kind == .string else { return .failure(.badRequest) }
            let range = (base + element.range.lowerBound + 1)..<(base + element.range.upperBound - 1)
            let text = JSONText.unescape(object.bytes, range)
            guard !text.isEmpty, let name = TopicName(text) else { return .failure(.badRequest) }
            if seen.insert(name).inserted { names.append(name) }
        }
        return .success(names)
    }
}
