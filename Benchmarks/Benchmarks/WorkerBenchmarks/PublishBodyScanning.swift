// Publish body scanning: reading topic and payload out of `POST /internal/publish`.
import Adapters
import Application
import Benchmark
import Domain

/// The reading half of `InternalAPIResponder.publish`, which is private: the same steps in the
/// same order (object, topic, payload copied out), so the figures stay the responder's.
func scanPublishBody(_ body: [UInt8]) -> (TopicName, JSONPayload)? {
    body.withUnsafeBufferPointer { buffer -> (TopicName, JSONPayload)? in
        guard let object = try? JSONObjectFields(buffer),
            let topicField = object["topic"], topicField.kind != .null,
            let text = object.string(topicField), !text.isEmpty,
            let topic = TopicName(text),
            let payloadField = object["payload"]
        else { return nil }
        return (topic, JSONPayload(validatedBytes: object.rawValue(payloadField)))
    }
}

func registerPublishBodyBenchmarks() {
    let body = Fixtures.publishBody
    requireFixture(scanPublishBody(body)?.1.bytes == Fixtures.payload, "the publish body is refused")

    Benchmark("JSON: scan publish body") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(scanPublishBody(body))
        }
    }
}
