// One contract for every ClusterBus (docs/development.md "One contract suite per port"): local delivery
// exactly once, first; the Redis bus also reaches other nodes and speaks the upstream envelope.
@testable import Adapters
import Application
import Domain
import Logging
import Testing
import TestSupport

enum ClusterBusKind: String, CaseIterable, Sendable {
    case memory, redis
}

/// The nodes of one installation sharing a bus: one node in memory (it has no other), two on a
/// real redis-server, each with the sink its local subscribers read.
final class ClusterBusHarness {
    let buses: [any ClusterBus]
    let sinks: [RecordingSink]
    /// What `nodeCount` reports once every node is up: nil for a node alone.
    let expectedNodeCount: Int?
    private var server: RedisServer?
    private var group: EventLoopGroup?

    init(_ kind: ClusterBusKind, history: HistoryRules = HistoryRules()) throws {
        switch kind {
        case .memory:
            sinks = [RecordingSink()]
            buses = [InMemoryClusterBus(sink: sinks[0], history: history)]
            expectedNodeCount = nil
        case .redis:
            let server = try RedisServer()
            let group = try EventLoopGroup(count: 2)
            let endpoint = RedisEndpoint(host: "127.0.0.1", port: server.port)
            let nodeSinks = [RecordingSink(), RecordingSink()]
            let nodeBuses = (0..<2).map { index in
                RedisClusterBus(
                    endpoint: endpoint, prefix: "wavelog:", originID: String(repeating: "\(index)", count: 16), sink: nodeSinks[index],
                    loop: group.loops[index], logger: Logger(label: "test"), history: history)
            }
            sinks = nodeSinks
            buses = nodeBuses
            for bus in nodeBuses { try bus.start() }
            group.start()
            self.server = server
            self.group = group
            expectedNodeCount = 2
        }
    }

    var redis: RedisServer? { server }

    deinit {
        for bus in buses { bus.shutdown() }
        group?.stopAndJoin()
        server?.stop()
    }
}

struct ClusterBusContractTests {
    let topic = TopicName("session.42")!

    func event(_ payload: String) -> PublishedEvent {
        PublishedEvent(topic: topic, payload: JSONPayload(validatedBytes: Array(payload.utf8)))
    }

    @Test(arguments: ClusterBusKind.allCases)
    func everyNodeDeliversEachEventOnceInOrderAndThePublishingNodeFirst(_ kind: ClusterBusKind) throws {
        let harness = try ClusterBusHarness(kind)
        #expect(eventually { harness.buses.allSatisfy { $0.nodeCount == harness.expectedNodeCount } }, "every node up")
        let events = [event(#"{"n":1}"#), event(#"{"n":2}"#)]
        for event in events { harness.buses[0].publish(event) }
        // Local subscribers have both before publish returned, whether or not a broker is involved.
        #expect(harness.sinks[0].delivered == events)
        for sink in harness.sinks.dropFirst() {
            #expect(eventually { sink.delivered.count == events.count })
            #expect(sink.delivered == events)
        }
        // Nothing comes twice, also not the publishing node's own echo: a marker from the last node
        // travels behind the echoes (a broker delivers one channel in order), so once it is in,
        // every echo that could have come has.
        let marker = event(#"{"marker":true}"#)
        harness.buses[harness.buses.count - 1].publish(marker)
        #expect(eventually { harness.sinks.allSatisfy { $0.delivered.last == marker } })
        #expect(harness.sinks.allSatisfy { $0.delivered == events + [marker] })
    }

    @Test(arguments: ClusterBusKind.allCases)
    func theLinkIsReportedUpAndNothingIsCountedUnsentWhileItIs(_ kind: ClusterBusKind) throws {
        let harness = try ClusterBusHarness(kind)
        #expect(eventually { harness.buses.allSatisfy { $0.nodeCount == harness.expectedNodeCount } })
        #expect(eventually { harness.buses.allSatisfy { $0.health == nil || $0.health?.connected == true } })
        harness.buses[0].publish(event("1"))
        #expect(eventually { harness.sinks.allSatisfy { $0.delivered == [event("1")] } })
        #expect(harness.buses.allSatisfy { ($0.health?.publishesNotFannedOut ?? 0) == 0 })
        #expect(harness.buses.allSatisfy { ($0.health == nil) == (kind == .memory) })
    }

    @Test(arguments: ClusterBusKind.allCases)
    func aTopicWithHistoryGetsConsecutivePositionsTheSameOnEveryNode(_ kind: ClusterBusKind) throws {
        let history = HistoryRules([HistoryRule(pattern: TopicPattern("session.*")!, size: 10, ttl: .seconds(60))])
        let harness = try ClusterBusHarness(kind, history: history)
        #expect(eventually { harness.buses.allSatisfy { $0.nodeCount == harness.expectedNodeCount } }, "every node up")
        let events = (1...5).map { event("{\"n\":\($0)}") }
        for (index, event) in events.enumerated() { harness.buses[index % harness.buses.count].publish(event) }
        harness.buses[0].publish(PublishedEvent(topic: TopicName("other")!, payload: JSONPayload(validatedBytes: Array("0".utf8))))
        for sink in harness.sinks {
            #expect(eventually { sink.delivered.count == events.count + 1 })
            let positioned = sink.delivered.filter { $0.topic == topic }
            // In the order the broker ran them, which the publishing threads decide.
            #expect(Set(positioned.map { $0.payload.bytes }) == Set(events.map { $0.payload.bytes }))
            #expect(positioned.map { $0.position?.offset } == [1, 2, 3, 4, 5])
            #expect(Set(positioned.map { $0.position?.epoch }).count == 1)
            #expect(sink.delivered.first { $0.topic != topic }?.position == nil)
        }
        let sequences = harness.sinks.map { sink in sink.delivered.filter { $0.topic == topic } }
        #expect(sequences.allSatisfy { $0 == sequences[0] })
    }

    @Test func aTopicWithHistoryIsDeliveredWithoutAPositionWhileRedisIsDown() throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.stopAndJoin() }
        let sink = RecordingSink()
        let bus = RedisClusterBus(
            endpoint: RedisEndpoint(host: "127.0.0.1", port: 1), prefix: "wavelog:", originID: "0123456789abcdef", sink: sink,
            loop: group.loops[0], logger: Logger(label: "test"),
            history: HistoryRules([HistoryRule(pattern: TopicPattern("*")!, size: 10, ttl: .seconds(60))]))
        try bus.start()
        group.start()
        defer { bus.shutdown() }
        bus.publish(event("1"))
        #expect(eventually { sink.delivered == [event("1")] })
        #expect(eventually { bus.publishesNotFannedOut == 1 })
    }

    @Test func anEnvelopeWithAPositionIsReadEvenFromThisNode() {
        let text = #"{"origin_id":"0123456789abcdef","topic":"t","payload":1,"position":"00000000000000ff-7"}"#
        let decoded = RedisClusterBus.decodeEnvelope(Array(text.utf8), ignoring: "0123456789abcdef")
        #expect(decoded?.position == StreamPosition(epoch: 0xff, offset: 7))
        let unreadable = #"{"origin_id":"0123456789abcdef","topic":"t","payload":1,"position":"x"}"#
        #expect(RedisClusterBus.decodeEnvelope(Array(unreadable.utf8), ignoring: "0123456789abcdef") == nil)
        #expect(RedisClusterBus.decodeEnvelope(Array(unreadable.utf8), ignoring: "ffffffffffffffff")?.position == nil)
    }

    @Test func anUpstreamEnvelopeFromAnotherClientReachesEveryRedisNode() throws {
        let harness = try ClusterBusHarness(.redis)
        #expect(eventually { harness.buses.allSatisfy { $0.nodeCount == 2 } }, "both nodes subscribed")
        _ = try harness.redis?.command(["PUBLISH", "wavelog:events", #"{"origin_id":"abcdefabcdefabcd","topic":"session.42","payload":[ 1,2 ]}"#])
        #expect(eventually { harness.sinks.allSatisfy { $0.delivered == [event("[ 1,2 ]")] } })
    }

    @Test func redisDownMeansLocalDeliveryGoesOnAndIsCounted() throws {
        let group = try EventLoopGroup(count: 1)
        defer { group.stopAndJoin() }
        let sink = RecordingSink()
        // Port 1 on loopback: nothing listens there.
        let bus = RedisClusterBus(
            endpoint: RedisEndpoint(host: "127.0.0.1", port: 1), prefix: "wavelog:", originID: "0123456789abcdef", sink: sink,
            loop: group.loops[0], logger: Logger(label: "test"))
        try bus.start()
        group.start()
        defer { bus.shutdown() }
        bus.publish(event("1"))
        #expect(sink.delivered == [event("1")])
        #expect(eventually { bus.publishesNotFannedOut == 1 })
        #expect(bus.nodeCount == 0)
    }

    @Test func envelopeKeepsThePayloadBytesAndDecodesBack() throws {
        let original = PublishedEvent(topic: TopicName("a\"b")!, payload: JSONPayload(validatedBytes: Array(#"{ "x" : "\u00e9" }"#.utf8)))
        let envelope = RedisClusterBus.envelope(originID: "0123456789abcdef", event: original)
        #expect(String(decoding: envelope, as: UTF8.self) == #"{"origin_id":"0123456789abcdef","topic":"a\"b","payload":{ "x" : "\u00e9" }}"#)
        #expect(RedisClusterBus.decodeEnvelope(envelope, ignoring: "ffffffffffffffff") == original)
        #expect(RedisClusterBus.decodeEnvelope(envelope, ignoring: "0123456789abcdef") == nil)
        #expect(RedisClusterBus.decodeEnvelope(Array(#"{"origin_id":"x","topic":"t"}"#.utf8), ignoring: "y") == nil)
    }
}

struct RedisLoginTests {
    let topic = TopicName("session.42")!

    @Test func busAndStoreLogInWithPasswordAndDatabase() throws {
        let server = try RedisServer(password: "s3cret pass")
        let group = try EventLoopGroup(count: 2)
        defer {
            group.stopAndJoin()
            server.stop()
        }
        let endpoint = try RedisEndpoint(url: "redis://:s3cret%20pass@127.0.0.1:\(server.port)/3")
        let sinks = [RecordingSink(), RecordingSink()]
        let buses = (0..<2).map { index in
            RedisClusterBus(
                endpoint: endpoint, prefix: "wavelog:", originID: String(repeating: "\(index)", count: 16), sink: sinks[index],
                loop: group.loops[index], logger: Logger(label: "test"))
        }
        let store = RedisTopicStore(
            endpoint: endpoint, prefix: "wavelog:", originID: "0000000000000000", clock: SystemClock(), loop: group.loops[0],
            logger: Logger(label: "test"))
        for bus in buses { try bus.start() }
        try store.start()
        group.start()
        defer {
            store.shutdown()
            for bus in buses { bus.shutdown() }
        }
        #expect(eventually { buses.allSatisfy { $0.nodeCount == 2 && $0.health?.connected == true } })
        buses[0].publish(PublishedEvent(topic: topic, payload: JSONPayload(validatedBytes: Array("7".utf8))))
        #expect(eventually { sinks[1].delivered.count == 1 })
        // SELECT 3: the registration lands in database 3, not 0.
        #expect(eventually {
            store.register(topic, meta: .secureDefault, ttl: .seconds(60), now: SystemClock().monotonic)
            return (try? server.command(["EXISTS", "wavelog:topic:session.42"], database: 3)) == ":1\r\n"
        })
        #expect(try server.command(["EXISTS", "wavelog:topic:session.42"]) == ":0\r\n")
    }

    @Test func wrongPasswordKeepsLocalDeliveryAndReportsTheLinkDown() throws {
        let server = try RedisServer(password: "right")
        let group = try EventLoopGroup(count: 1)
        defer {
            group.stopAndJoin()
            server.stop()
        }
        let sink = RecordingSink()
        let logs = InMemoryLogHandler.Store()
        let bus = RedisClusterBus(
            endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port, password: "wrong"), prefix: "wavelog:",
            originID: "0123456789abcdef", sink: sink, loop: group.loops[0], logger: InMemoryLogHandler.logger(logs))
        try bus.start()
        group.start()
        defer { bus.shutdown() }
        // Redis refused the login: the premise, awaited rather than assumed.
        #expect(eventually { logs.lines.contains { $0.contains("redis login failed") } })
        bus.publish(PublishedEvent(topic: topic, payload: JSONPayload(validatedBytes: Array("1".utf8))))
        #expect(sink.delivered.count == 1)
        #expect(eventually { bus.publishesNotFannedOut == 1 })
        #expect(bus.health?.connected == false)
        #expect(bus.nodeCount == 0)
        #expect(!logs.lines.contains { $0.contains("redis connected") })
    }
}

struct RedisHostNameTests {
    @Test func hostNamesAreResolvedOffTheLoopAndConnect() throws {
        let server = try RedisServer()
        let group = try EventLoopGroup(count: 1)
        defer {
            group.stopAndJoin()
            server.stop()
        }
        let bus = RedisClusterBus(
            endpoint: RedisEndpoint(host: "localhost", port: server.port), prefix: "wavelog:", originID: "0123456789abcdef",
            sink: RecordingSink(), loop: group.loops[0], logger: Logger(label: "test"))
        try bus.start()
        group.start()
        defer { bus.shutdown() }
        #expect(eventually { bus.health?.connected == true })
    }
}
