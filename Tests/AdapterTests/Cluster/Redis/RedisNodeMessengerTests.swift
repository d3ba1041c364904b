// Node messages over a real redis-server: in order to every node, and the link's state told.
@testable import Adapters
import Application
import Domain
import Logging
import Testing
import TestSupport

/// Behind `Locked`, whose lock ThreadSanitizer is told about (it cannot see `Mutex`'s futex).
final class RecordingListener: NodeMessageListener {
    private let state = Locked<(messages: [ReplicaMessage], links: [Bool])>(([], []))

    func received(_ message: ReplicaMessage) { state.withLock { $0.messages.append(message) } }
    func linkChanged(up: Bool) { state.withLock { $0.links.append(up) } }

    var messages: [ReplicaMessage] { state.withLock { $0.messages } }
    var links: [Bool] { state.withLock { $0.links } }
}

struct RedisNodeMessengerTests {
    /// Two nodes' buses on a real redis-server, each with its sink and listener, started.
    final class TwoNodes {
        let server: RedisServer
        let group: EventLoopGroup
        let sinks = [RecordingSink(), RecordingSink()]
        let listeners = [RecordingListener(), RecordingListener()]
        let buses: [RedisClusterBus]

        init() throws {
            server = try RedisServer()
            group = try EventLoopGroup(count: 2)
            let endpoint = RedisEndpoint(host: "127.0.0.1", port: server.port)
            buses = (0..<2).map { [sinks, group] index in
                RedisClusterBus(
                    endpoint: endpoint, prefix: "wavelog:", originID: String(repeating: "\(index)", count: 16), sink: sinks[index],
                    loop: group.loops[index], logger: Logger(label: "test"))
            }
            for (bus, listener) in zip(buses, listeners) { bus.listen(listener) }
            for bus in buses { try bus.start() }
            group.start()
        }

        deinit {
            for bus in buses { bus.shutdown() }
            group.stopAndJoin()
            server.stop()
        }
    }

    @Test func messagesReachEveryNodeInOrderAndTheLinkIsToldUpAndDown() throws {
        let nodes = try TwoNodes()
        let (server, buses, listeners) = (nodes.server, nodes.buses, nodes.listeners)
        #expect(eventually { listeners.allSatisfy { $0.links == [true] } })
        let key = ChannelKey(app: "1", channel: "presence-a")
        let sent: [ReplicaMessage] = [
            .heartbeat(node: "n0", sequence: 0), .joined(node: "n0", sequence: 1, key: key, userID: "u", info: Array("{}".utf8)),
            .left(node: "n0", sequence: 2, key: key, userID: "u"), .departed(node: "n0"),
        ]
        for message in sent { buses[0].send(message) }
        // Every node hears every message, its own too (the replicas ignore their own).
        #expect(eventually { listeners.allSatisfy { $0.messages.count == sent.count } })
        #expect(listeners.allSatisfy { $0.messages == sent })
        server.stop()
        #expect(eventually { listeners.allSatisfy { $0.links == [true, false] } })
    }

    @Test func pusherEventsTravelOnTheirOwnChannelAndStillReachEveryNode() throws {
        let nodes = try TwoNodes()
        let (server, buses, sinks) = (nodes.server, nodes.buses, nodes.sinks)
        #expect(eventually { (try? server.command(["PUBSUB", "NUMSUB", "wavelog:pusher"])) == "*2\r\n$14\r\nwavelog:pusher\r\n:2\r\n" })
        #expect(eventually { buses.allSatisfy { $0.nodeCount == 2 } })
        let event = PublishedEvent(topic: TopicName.namespaced("pusher", "1:news")!, payload: JSONPayload(validatedBytes: Array("{}".utf8)))
        buses[0].publish(event)
        #expect(eventually { sinks[1].delivered == [event] })
        // An older node of ours still sends them on the events channel: they are delivered too.
        _ = try server.command(["PUBLISH", "wavelog:events", #"{"origin_id":"ffffffffffffffff","topic":"\u0001pusher\u00011:news","payload":{}}"#])
        #expect(eventually { sinks[1].delivered == [event, event] })
    }
}
