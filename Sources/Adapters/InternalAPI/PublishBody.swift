// Reading `POST /internal/publish`: the topic, and the payload exactly as the backend sent it.
public import Application
public import Domain

/// Why a body was refused (docs/protocol.md "Internal API"); the responder answers each with its text.
public enum BodyRefusal: Error, Sendable, Equatable {
    case badRequest, missingTopic, missingPayload
}

/// The publish body's reading half, public so the micro-benchmarks time this code, not a copy.
public enum PublishBody {
    public static func read(_ body: UnsafeBufferPointer<UInt8>) -> Result<(topic: TopicName, payload: JSONPayload), BodyRefusal> {
        guard let object = try? JSONObjectFields(body) else { return .failure(.badRequest) }
        let topic: TopicName
        switch self.topic(in: object) {
        case .success(let name): topic = name
        case .failure(let refusal): return .failure(refusal)
        }
        // `"payload": null` is a value and is forwarded; only a missing payload is an error.
        guard let payloadField = object["payload"] else { return .failure(.missingPayload) }
        return .success((topic, JSONPayload(validatedBytes: object.rawValue(payloadField))))
    }

    /// The `topic` member every internal route carries.
    static func topic(in object: JSONObjectFields) -> Result<TopicName, BodyRefusal> {
        guard let field = object["topic"], field.kind != .null else { return .failure(.missingTopic) }
        guard let text = object.string(field) else { return .failure(.badRequest) }
        guard !text.isEmpty else { return .failure(.missingTopic) }
        guard let topic = TopicName(text) else { return .failure(.badRequest) }
        return .success(topic)
    }
}
