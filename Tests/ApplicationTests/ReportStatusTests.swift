// The status use case against fakes.
import Application
import Domain
import Testing
import TestSupport

struct ReportStatusTests {
    @Test func reportsCountsListsUptimeAndNodes() {
        let fixture = BrokerFixture(nodeCount: 3)
        let a = TopicName("session.1")!
        let b = TopicName("session.2")!
        fixture.broker.registerTopic(a, meta: .secureDefault)
        fixture.broker.registerTopic(b, meta: TopicMeta(requireToken: false))
        var index = SubscriptionIndex<Int>()
        _ = fixture.broker.authenticateSubscriber(1, topic: b, message: .auth(token: nil), into: &index)
        _ = fixture.broker.authenticateSubscriber(2, topic: b, message: .auth(token: nil), into: &index)
        _ = fixture.broker.authenticateSubscriber(
            3, topic: a, message: .auth(token: fixture.token("user_id=5;topic=session.1;expires=1900000000")), into: &index)
        fixture.clock.advance(by: .seconds(862))

        let status = fixture.broker.reportStatus(includeTopicLists: true)
        #expect(status.version == "9.9.9")
        #expect(status.uptime == "14m22s")
        #expect(status.registeredTopicCount == 2)
        #expect(status.registeredTopics == [a, b])
        #expect(status.activeTopicCount == 2)
        #expect(status.activeTopics == [a, b])
        #expect(status.connectedSockets == 3)
        #expect(status.connectedClients == 3)
        #expect(status.clusterNodes == 3)

        let brief = fixture.broker.reportStatus(includeTopicLists: false)
        #expect(brief.registeredTopics == nil && brief.activeTopics == nil)
    }

    @Test func singleNodeReportsMinusOneClusterNodes() {
        #expect(BrokerFixture().broker.reportStatus(includeTopicLists: false).clusterNodes == -1)
    }
}
