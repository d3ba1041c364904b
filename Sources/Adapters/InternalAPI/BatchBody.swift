// Reading `POST /internal/batch`: a list of `{topic, payload}`, each payload exactly as sent.
public import Application
public import Domain

/// Why a batch was refused: the refusal, and which element (from 0) caused it, if one did.
public struct BatchRefusal: Error, Sendable, Equatable {
    public let refusal: BodyRefusal
    public let index: Int?

    public init(refusal: BodyRefusal, index: Int?) {
        self.refusal = refusal
        self.index = index
    }
}

/// A batch is checked whole before anything is published: a malformed element refuses the
/// request, so the backend never has to work out which half went out.
public enum BatchBody {
    public static func read(_ body: UnsafeBufferPointer<UInt8>) -> Result<[(topic: TopicName, payload: JSONPayload)], BatchRefusal> {
        // One level more than a publish body: each element is one.
        guard let elements = try? JSONReader.arrayElements(body, maxDepth: JSONReader.defaultMaxDepth + 1) else { return .failure(BatchRefusal(refusal: .badRequest, index: nil)) }
        guard !elements.isEmpty else { return .failure(BatchRefusal(refusal: .missingTopic, index: nil)) }
        guard elements.count <= PublishBody.maxTopics else { return .failure(BatchRefusal(refusal: .tooManyTopics, index: nil)) }
        var messages: [(topic: TopicName, payload: JSONPayload)] = []
        messages.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard element.kind == .object else { return .failure(BatchRefusal(refusal: .badRequest, index: index)) }
            switch PublishBody.read(UnsafeBufferPointer(rebasing: body[element.range])) {
            case .success(let message): messages.append(message)
            case .failure(let refusal): return .failure(BatchRefusal(refusal: refusal, index: index))
            }
        }
        return .success(messages)
    }
}
