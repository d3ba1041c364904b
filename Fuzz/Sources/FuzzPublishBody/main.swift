// libFuzzer target: the bodies of `POST /internal/publish` and `POST /internal/batch`, which
// any holder of the secret can send. Any bytes must end in messages or a refusal, never a
// crash, and never more topics than one request may name.
import Adapters
import FuzzSupport

runFuzzer { bytes in
    let input = Array(bytes)
    input.withUnsafeBufferPointer { buffer in
        if case .success((.many(let topics), _)) = PublishBody.readTargets(buffer) {
            precondition(!topics.isEmpty && topics.count <= PublishBody.maxTopics, "\(topics.count) topics")
            precondition(Set(topics).count == topics.count, "a topic listed twice")
        }
        if case .success(let messages) = BatchBody.read(buffer) {
            precondition(!messages.isEmpty && messages.count <= PublishBody.maxTopics, "\(messages.count) messages")
        }
    }
}
