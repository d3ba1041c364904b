// One contract for every TopicStore (docs/development.md "One contract suite per port"): the
// in-memory store is the reference the Redis store is held to, against a real redis-server.
@testable import Adapters
import Application
import Domain
import Logging
import Testing
import TestSupport

enum TopicStoreKind: String, CaseIterable, Sendable {
    case memory, redis
}

/// A store under test, with whatever it needs running.
final class TopicStoreHarness {
    let store: any TopicStore
    let clock = SystemClock()
    private var redis: RedisServer?
    private var group: EventLoopGroup?
    private var redisStore: RedisTopicStore?

    private let prefix: String

    init(_ kind: TopicStoreKind, prefix: String = "test:") throws {
        self.prefix = prefix
        switch kind {
        case .memory:
            store = InMemoryTopicStore()
        case .redis:
            let server = try RedisServer()
            redis = server
            let (group, started) = try Self.startStore(on: server, prefix: prefix, originID: "0000000000000001")
            self.group = group
            redisStore = started
            store = started
        }
    }

    var server: RedisServer? { redis }

    /// Another node's view of the same registry: the store itself in memory; over Redis, a
    /// second store on the same server, which can only know what reached Redis.
    func peer() throws -> TopicStoreHarness {
        guard let redis else { return self }
        return try TopicStoreHarness(sharing: redis, prefix: prefix)
    }

    private init(sharing server: RedisServer, prefix: String) throws {
        self.prefix = prefix
        let (group, started) = try Self.startStore(on: server, prefix: prefix, originID: "0000000000000002")
        self.group = group
        redisStore = started
        store = started
    }

    private static func startStore(on server: RedisServer, prefix: String, originID: String) throws -> (EventLoopGroup, RedisTopicStore) {
        let group = try EventLoopGroup(count: 1)
        let store = RedisTopicStore(
            endpoint: RedisEndpoint(host: "127.0.0.1", port: server.port), prefix: prefix, originID: originID,
            clock: SystemClock(), loop: group.loops[0], logger: Logger(label: "test"))
        try store.start()
        group.start()
        return (group, store)
    }

    deinit {
        redisStore?.shutdown()
        group?.stopAndJoin()
        redis?.stop()
    }
}

struct TopicStoreContractTests {
    let topic = TopicName("session.42")!

    @Test(arguments: TopicStoreKind.allCases)
    func registeredTopicsAreFoundWithTheirMeta(_ kind: TopicStoreKind) throws {
        let harness = try TopicStoreHarness(kind)
        let now = harness.clock.monotonic
        harness.store.register(topic, meta: TopicMeta(requireToken: false), ttl: .seconds(60), now: now)
        #expect(harness.store.lookup(topic, now: now) == TopicMeta(requireToken: false))
        harness.store.register(topic, meta: .secureDefault, ttl: .seconds(60), now: now)
        #expect(harness.store.lookup(topic, now: now) == .secureDefault)
        #expect(harness.store.liveTopics(now: now) == [topic])
        // Found by another node too: over Redis, only through Redis.
        let peer = try harness.peer()
        #expect(eventually { peer.store.lookup(topic, now: harness.clock.monotonic) == .secureDefault })
    }

    @Test(arguments: TopicStoreKind.allCases)
    func unregisterRemovesAndUnknownTopicsAreFine(_ kind: TopicStoreKind) throws {
        let harness = try TopicStoreHarness(kind)
        let now = harness.clock.monotonic
        harness.store.register(topic, meta: .secureDefault, ttl: .seconds(60), now: now)
        harness.store.unregister(topic, now: now)
        harness.store.unregister(TopicName("never")!, now: now)
        #expect(harness.store.lookup(topic, now: now) == nil)
    }

    @Test(arguments: TopicStoreKind.allCases)
    func expiredTopicsAreInvisibleAndReaped(_ kind: TopicStoreKind) throws {
        let harness = try TopicStoreHarness(kind)
        let now = harness.clock.monotonic
        harness.store.register(topic, meta: .secureDefault, ttl: .seconds(60), now: now)
        let later = now.advanced(by: .seconds(61))
        #expect(harness.store.lookup(topic, now: later) == nil)
        #expect(harness.store.reapExpired(now: later) == 1)
    }

    @Test func redisStoreWritesTheUpstreamKeyWithTheTTL() throws {
        let harness = try TopicStoreHarness(.redis, prefix: "wavelog:")
        let server = try #require(harness.server)
        #expect(eventually { (try? server.command(["PING"])) == "+PONG\r\n" })
        // Wait until the store's connection is up: its SET then lands in Redis.
        #expect(eventually {
            harness.store.register(topic, meta: TopicMeta(requireToken: false), ttl: .seconds(3600), now: harness.clock.monotonic)
            return (try? server.command(["GET", "wavelog:topic:session.42"]))?.contains(#"{"require_token":false}"#) == true
        })
        let ttl = try server.command(["TTL", "wavelog:topic:session.42"])
        #expect(ttl.hasPrefix(":3600") || ttl.hasPrefix(":3599"))
        harness.store.unregister(topic, now: harness.clock.monotonic)
        #expect(eventually { (try? server.command(["EXISTS", "wavelog:topic:session.42"])) == ":0\r\n" })
    }

    @Test func plainSetAndDelByAnotherClientReachTheLocalView() throws {
        let harness = try TopicStoreHarness(.redis, prefix: "wavelog:")
        let server = try #require(harness.server)
        let foreign = TopicName("from.go.node")!
        _ = try server.command(["SET", "wavelog:topic:from.go.node", #"{"require_token":false}"#, "EX", "100"])
        #expect(eventually { harness.store.lookup(foreign, now: harness.clock.monotonic) == TopicMeta(requireToken: false) })
        _ = try server.command(["DEL", "wavelog:topic:from.go.node"])
        #expect(eventually { harness.store.lookup(foreign, now: harness.clock.monotonic) == nil })
    }
}
