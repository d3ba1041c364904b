// Register, unregister, publish and reap, against fakes.
import Application
import Domain
import Testing
import TestSupport

struct TopicUseCaseTests {
    let topic = TopicName("session.42")!

    @Test func publishToARegisteredTopicGoesOnTheBusWithTheExactBytes() throws {
        let fixture = BrokerFixture()
        fixture.broker.registerTopic(topic, meta: .secureDefault)
        let payload = JSONPayload(validatedBytes: Array(#"{ "a" : "\u00e9" }"#.utf8))
        try fixture.broker.publishEvent(topic: topic, payload: payload)
        #expect(fixture.bus.published == [PublishedEvent(topic: topic, payload: payload)])
    }

    @Test func publishToAnUnknownTopicIsRefused() {
        let fixture = BrokerFixture()
        #expect(throws: PublishError.topicNotRegistered) {
            try fixture.broker.publishEvent(topic: topic, payload: JSONPayload(validatedBytes: Array("1".utf8)))
        }
        #expect(fixture.bus.published.isEmpty)
    }

    @Test func topicsExpireAfterTheirTTLUnlessRefreshed() throws {
        let fixture = BrokerFixture()
        fixture.broker.registerTopic(topic, meta: .secureDefault)
        fixture.clock.advance(by: .seconds(3000))
        fixture.broker.registerTopic(topic, meta: .secureDefault)
        fixture.clock.advance(by: .seconds(3000))
        try fixture.broker.publishEvent(topic: topic, payload: JSONPayload(validatedBytes: Array("null".utf8)))
        fixture.clock.advance(by: .seconds(601))
        #expect(throws: PublishError.topicNotRegistered) {
            try fixture.broker.publishEvent(topic: topic, payload: JSONPayload(validatedBytes: Array("null".utf8)))
        }
        #expect(fixture.broker.reapExpiredTopics() == 1)
        #expect(fixture.broker.reapExpiredTopics() == 0)
    }

    @Test func unregisterRefusesLaterPublishesAndUnknownTopicsAreFine() {
        let fixture = BrokerFixture()
        fixture.broker.registerTopic(topic, meta: .secureDefault)
        fixture.broker.unregisterTopic(topic)
        fixture.broker.unregisterTopic(TopicName("never.registered")!)
        #expect(throws: PublishError.topicNotRegistered) {
            try fixture.broker.publishEvent(topic: topic, payload: JSONPayload(validatedBytes: Array("1".utf8)))
        }
    }

    @Test func workerStatusTopicIsRegisteredForeverAndRequiresAToken() {
        let fixture = BrokerFixture()
        fixture.broker.registerWorkerTopics()
        fixture.clock.advance(by: .seconds(10 * 365 * 24 * 3600))
        #expect(fixture.topics.lookup(.workerStatus, now: fixture.clock.monotonic) == .secureDefault)
    }
}
