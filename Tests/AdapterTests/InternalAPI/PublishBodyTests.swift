// The publish and batch bodies: which form is read, and each refusal.
import Adapters
import Application
import Domain
import Testing

@Suite struct PublishBodyTests {
    private func targets(_ text: String) -> Result<PublishTargets, BodyRefusal> {
        Array(text.utf8).withUnsafeBufferPointer { PublishBody.readTargets($0).map(\.targets) }
    }

    private func batch(_ text: String) -> Result<[String], BatchRefusal> {
        Array(text.utf8).withUnsafeBufferPointer { BatchBody.read($0).map { $0.map { "\($0.topic.value)=\(String(decoding: $0.payload.bytes, as: UTF8.self))" } } }
    }

    @Test func theGoWorkersOneTopicIsRead() {
        #expect(targets(#"{"topic":"a","payload":1}"#) == .success(.one(TopicName("a")!)))
        #expect(targets(#"{"topic":"a","topics":null,"payload":1}"#) == .success(.one(TopicName("a")!)))
    }

    @Test func aListOfTopicsIsReadInOrderOnceEach() {
        #expect(targets(#"{"topics":["b","a","b"],"payload":1}"#) == .success(.many([TopicName("b")!, TopicName("a")!])))
        #expect(targets(#"{"topics":["x\u0041"],"payload":1}"#) == .success(.many([TopicName("xA")!])))
    }

    @Test func badListsAreRefusedWhole() {
        #expect(targets(#"{"topics":[],"payload":1}"#) == .failure(.missingTopic))
        #expect(targets(#"{"topics":"a","payload":1}"#) == .failure(.badRequest))
        #expect(targets(#"{"topics":["a",7],"payload":1}"#) == .failure(.badRequest))
        #expect(targets(#"{"topics":["a",""],"payload":1}"#) == .failure(.badRequest))
        #expect(targets(#"{"topic":"a","topics":["b"],"payload":1}"#) == .failure(.badRequest))
        #expect(targets(#"{"topics":["a"]}"#) == .failure(.missingPayload))
        let many = (0...PublishBody.maxTopics).map { "\"t\($0)\"" }.joined(separator: ",")
        #expect(targets(#"{"topics":[\#(many)],"payload":1}"#) == .failure(.tooManyTopics))
        let enough = (1...PublishBody.maxTopics).map { "\"t\($0)\"" }.joined(separator: ",")
        #expect((try? targets(#"{"topics":[\#(enough)],"payload":1}"#).get()) == .many((1...100).map { TopicName("t\($0)")! }))
    }

    @Test func onePayloadForManyTopicsIsBoundedInTotal() {
        let payload = "\"" + String(repeating: "x", count: PublishBody.maxFannedOutBytes / 50) + "\""
        let fifty = (1...50).map { "\"t\($0)\"" }.joined(separator: ",")
        #expect(targets(#"{"topics":[\#(fifty)],"payload":\#(payload)}"#) == .failure(.tooLarge))
        let forty = (1...40).map { "\"t\($0)\"" }.joined(separator: ",")
        #expect(targets(#"{"topics":[\#(forty)],"payload":\#(payload)}"#) != .failure(.tooLarge))
    }

    @Test func aBatchKeepsEachPayloadByteForByte() {
        #expect((try? batch(#"[{"topic":"a","payload":{"x": 1}},{"topic":"b","payload":null}]"#).get()) == ["a={\"x\": 1}", "b=null"])
    }

    @Test func aBatchNamesTheElementAtFault() {
        #expect(batch(#"[{"topic":"a","payload":1},{"topic":"b"}]"#) == .failure(BatchRefusal(refusal: .missingPayload, index: 1)))
        #expect(batch(#"[{"topic":"a","payload":1},7]"#) == .failure(BatchRefusal(refusal: .badRequest, index: 1)))
        #expect(batch(#"[{"payload":1}]"#) == .failure(BatchRefusal(refusal: .missingTopic, index: 0)))
        #expect(batch(#"[{"topics":["a"],"payload":1}]"#) == .failure(BatchRefusal(refusal: .badRequest, index: 0)))
        #expect(batch(#"{"topic":"a","payload":1}"#) == .failure(BatchRefusal(refusal: .badRequest, index: nil)))
        #expect(batch("[]") == .failure(BatchRefusal(refusal: .missingTopic, index: nil)))
        let many = [String](repeating: #"{"topic":"a","payload":1}"#, count: 101).joined(separator: ",")
        #expect(batch("[\(many)]") == .failure(BatchRefusal(refusal: .tooManyTopics, index: nil)))
    }
}
