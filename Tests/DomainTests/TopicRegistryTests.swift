// The registry's TTL rules: refresh, lazy expiry, reaping.
import Domain
import Testing

struct TopicRegistryTests {
    let topic = TopicName("session.42")!
    let start = MonotonicTime(nanoseconds: 1_000)

    @Test func lookupSeesATopicUntilItsTTLPasses() {
        var registry = TopicRegistry()
        registry.register(topic, meta: .secureDefault, ttl: .seconds(60), now: start)
        #expect(registry.lookup(topic, now: start.advanced(by: .seconds(60))) == .secureDefault)
        #expect(registry.lookup(topic, now: start.advanced(by: .seconds(61))) == nil)
        #expect(registry.liveCount(now: start.advanced(by: .seconds(61))) == 0)
    }

    @Test func reRegisteringRefreshesTTLAndReplacesMeta() {
        var registry = TopicRegistry()
        registry.register(topic, meta: .secureDefault, ttl: .seconds(60), now: start)
        registry.register(topic, meta: TopicMeta(requireToken: false), ttl: .seconds(60), now: start.advanced(by: .seconds(50)))
        #expect(registry.lookup(topic, now: start.advanced(by: .seconds(100))) == TopicMeta(requireToken: false))
    }

    @Test func unregisterRemovesAndReportsWhetherItWasLive() {
        var registry = TopicRegistry()
        registry.register(topic, meta: .secureDefault, ttl: .seconds(60), now: start)
        let r13 = registry.unregister(topic, now: start)
        #expect(r13)
        #expect(registry.lookup(topic, now: start) == nil)
        let r14 = registry.unregister(topic, now: start)
        #expect(!r14)
    }

    @Test func reapDropsOnlyExpiredTopicsAndPermanentOnesStay() {
        var registry = TopicRegistry()
        let other = TopicName("session.7")!
        registry.register(topic, meta: .secureDefault, ttl: .seconds(10), now: start)
        registry.register(other, meta: .secureDefault, ttl: .seconds(100), now: start)
        registry.register(.workerStatus, meta: .secureDefault, ttl: nil, now: start)
        let later = start.advanced(by: .seconds(3600 * 24 * 365))
        #expect(registry.reap(now: start.advanced(by: .seconds(11))) == [topic])
        #expect(registry.liveTopics(now: start.advanced(by: .seconds(11))) == [other, .workerStatus])
        let r15 = registry.reap(now: later)
        #expect(r15 == [other])
        #expect(registry.liveTopics(now: later) == [.workerStatus])
    }

    @Test func liveTopicsAreSortedByBytes() {
        var registry = TopicRegistry()
        for name in ["b", "a", "c.1", "A"] {
            registry.register(TopicName(name)!, meta: .secureDefault, ttl: .seconds(10), now: start)
        }
        #expect(registry.liveTopics(now: start).map(\.value) == ["A", "a", "b", "c.1"])
    }

    @Test func hugeTTLSaturatesInsteadOfOverflowing() {
        var registry = TopicRegistry()
        registry.register(topic, meta: .secureDefault, ttl: .seconds(Int64.max / 2), now: start)
        #expect(registry.lookup(topic, now: MonotonicTime(nanoseconds: .max - 1)) != nil)
    }
}
