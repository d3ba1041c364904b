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

    @Test func aNodeAloneListsItselfAliveWithItsCurrentFigures() throws {
        let fixture = BrokerFixture()
        let topic = TopicName("session.1")!
        fixture.broker.registerTopic(topic, meta: TopicMeta(requireToken: false))
        var index = SubscriptionIndex<Int>()
        _ = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: nil), into: &index)
        fixture.clock.advance(by: .seconds(90))
        let nodes = try #require(fixture.broker.reportStatus(includeTopicLists: false).nodes)
        #expect(nodes.count == 1)
        #expect(nodes[0].alive)
        #expect(nodes[0].uptime == "1m30s")
        #expect(nodes[0].entry.seenAt == fixture.clock.wallTime)
        #expect((nodes[0].entry.activeTopics, nodes[0].entry.connectedSockets, nodes[0].entry.connectedClients) == (1, 1, 1))
    }

    @Test func aClusterListsTheRosterSortedAndJudgedNowAndNullWhenItCannotBeRead() throws {
        let clock = ManualClock()
        let roster = FakeRoster()
        let fixture = BrokerFixture(clock: clock, roster: roster)
        #expect(fixture.broker.reportStatus(includeTopicLists: false).nodes == nil)
        let seen = clock.wallTime
        func entry(_ id: String, _ name: String) -> NodeEntry {
            NodeEntry(identity: NodeIdentity(id: id, name: name, version: "v", startedAt: seen), seenAt: seen, activeTopics: 0, connectedClients: 0, connectedSockets: 0)
        }
        let entries = [entry("2", "b"), entry("1", "b"), entry("3", "a")]
        // Read 10 s after their last writes, reported 10 s later: judged alive as read, uptime to now.
        clock.advance(by: .seconds(10))
        roster.reading = RosterReading(entries: entries, readAt: clock.wallTime)
        clock.advance(by: .seconds(10))
        let nodes = try #require(fixture.broker.reportStatus(includeTopicLists: false).nodes)
        #expect(nodes.map(\.entry.identity.id) == ["3", "1", "2"])
        #expect(nodes.allSatisfy { $0.alive && $0.uptimeSeconds == 20 })
        // Read 15 s after their last writes: none is alive, each uptime counted to its last write.
        roster.reading = RosterReading(entries: entries, readAt: seen.advanced(by: .seconds(15)))
        let later = try #require(fixture.broker.reportStatus(includeTopicLists: false).nodes)
        #expect(later.allSatisfy { !$0.alive && $0.uptimeSeconds == 0 })
    }
}
