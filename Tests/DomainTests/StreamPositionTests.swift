// Positions as text, and the topic patterns of the history rules.
import Domain
import Testing

struct StreamPositionTests {
    @Test func aPositionIsWrittenWithSixteenHexDigitsAndReadBack() {
        let position = StreamPosition(epoch: 0xab, offset: 42)
        #expect(position.description == "00000000000000ab-42")
        #expect(StreamPosition.parse("00000000000000ab-42") == position)
        #expect(StreamPosition.parse("ab-42") == position)
        let extreme = StreamPosition(epoch: .max, offset: .max)
        #expect(StreamPosition.parse(extreme.description) == extreme)
        #expect(extreme.description.utf8.count == StreamPosition.maxTextLength)
    }

    @Test(arguments: [
        "", "-", "1", "1-", "-1", "1--1", "1-1-1", "g-1", "AB-1", " 1-1", "1-1 ", "1-+1", "1-0x1",
        "0123456789abcdef0-1", "1-18446744073709551616", "1-99999999999999999999",
        String(repeating: "0", count: 40) + "-1",
    ])
    func anythingElseIsNoPosition(_ text: String) {
        #expect(StreamPosition.parse(text) == nil)
    }

    @Test func bytesAreReadOneByOneWithoutLookingPastTheLimit() {
        // A value longer than any position is refused before it is scanned.
        let long = Array(repeating: UInt8(ascii: "1"), count: 10_000)
        #expect(StreamPosition.parse(long) == nil)
        // Every prefix of a valid position is either no position or a shorter one.
        let text = Array("00000000000000ab-42".utf8)
        for end in 0...text.count {
            let read = StreamPosition.parse(text[..<end])
            if end < 18 { #expect(read == nil, "prefix of \(end)") }
        }
        #expect(StreamPosition.parse(text[..<18]) == StreamPosition(epoch: 0xab, offset: 4))
    }
}

struct TopicPatternTests {
    func matches(_ pattern: String, _ topic: String) -> Bool {
        TopicPattern(pattern)!.matches(TopicName(topic)!)
    }

    @Test func aStarMatchesAnyRunOfCharactersIncludingNone() {
        #expect(matches("contest_session.*", "contest_session.42"))
        #expect(matches("contest_session.*", "contest_session."))
        #expect(matches("contest_session.*", "contest_session.a.b"))
        #expect(!matches("contest_session.*", "contest_session"))
        #expect(!matches("contest_session.*", "xcontest_session.1"))
        #expect(matches("*", "anything"))
        #expect(matches("*.status", "worker.status"))
        #expect(!matches("*.status", "worker.statusx"))
        #expect(matches("radio*user*", "radio.7.user.3"))
        #expect(matches("a*a", "aa"))
        #expect(!matches("a*a", "a"))
        #expect(matches("a*b*c", "abc"))
        #expect(!matches("a*b*c", "acb"))
        #expect(matches("exact", "exact"))
        #expect(!matches("exact", "exactly"))
    }

    @Test func thePatternIsMatchedWithoutBacktrackingBlowUp() {
        let pattern = TopicPattern(String(repeating: "a*", count: 60) + "b")!
        #expect(!pattern.matches(TopicName(String(repeating: "a", count: 256))!))
    }

    @Test func namespacedTopicsMatchNoRule() {
        let rules = HistoryRules([HistoryRule(pattern: TopicPattern("*")!, size: 10, ttl: .seconds(60))])
        #expect(rules.rule(for: TopicName("x")!) != nil)
        #expect(rules.rule(for: TopicName.namespaced("app", "x")!) == nil)
    }

    @Test func theFirstMatchingRuleApplies() {
        let rules = HistoryRules([
            HistoryRule(pattern: TopicPattern("radio.*")!, size: 1, ttl: .seconds(30)),
            HistoryRule(pattern: TopicPattern("*")!, size: 100, ttl: .seconds(300)),
        ])
        #expect(rules.rule(for: TopicName("radio.1")!)?.size == 1)
        #expect(rules.rule(for: TopicName("other")!)?.size == 100)
        #expect(TopicPattern("") == nil)
    }
}
