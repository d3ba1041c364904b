// Rules for topic names (docs/protocol.md "Internal API").
import Domain
import Testing

struct TopicNameTests {
    @Test(arguments: ["session.42", "a", "contest_session.7", "café", String(repeating: "x", count: 256), "é" + String(repeating: "x", count: 254)])
    func acceptsValidNames(_ name: String) {
        #expect(TopicName(name)?.value == name)
    }

    @Test(arguments: ["", String(repeating: "x", count: 257), "é" + String(repeating: "x", count: 255), "a\nb", "tab\there", "nul\u{0}", "del\u{7F}", "c1\u{85}"])
    func rejectsInvalidNames(_ name: String) {
        #expect(TopicName(name) == nil)
    }

    @Test func comparesBytesNotCanonicalEquivalence() {
        let composed = TopicName("caf\u{E9}")!
        let decomposed = TopicName("cafe\u{301}")!
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
    }

    @Test(arguments: [("session.42", "42"), ("contest_session.42", "42"), ("plain", "plain"), ("trailing.", "")])
    func lastSegmentIsAfterTheLastDot(_ name: String, _ segment: String) {
        #expect(TopicName(name)!.lastSegment == segment)
    }

    @Test func workerStatusTopicIsValid() {
        #expect(TopicName("worker.status") == .workerStatus)
    }
}
