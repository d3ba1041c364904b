// A node as App wires it (loops, shards, router, transports), with real adapters and loopback sockets.
@testable import Adapters
import Application
import Dispatch
import Domain
import Glibc
import Logging
import Synchronization
import TestSupport

/// A running node on 127.0.0.1: real event loops, the engine, the WebSocket and SSE transports
/// (and any extra transport a test brings), in-memory topic store and bus, real OpenSSL tokens.
final class NodeHarness {
    static let secret = "engine-test-secret-0123456789abcdef"

    let group: EventLoopGroup
    let broker: Broker
    let formats = WireFormats()
    let counters = EngineCounters()
    let logs = InMemoryLogHandler.Store()
    private(set) var shards: [SubscriberShard] = []
    private(set) var listeners: [Listener] = []
    private var drainables: [[any Drainable]] = []
    var port: Int { listeners[0].address.port }

    struct Options {
        var loops = 2
        var queueLimits = (frames: 4096, bytes: 4 << 20)
        var sse = SSETransport.Settings()
        var allowedOrigins: Set<String> = []
        var extra: [any BrowserTransport] = []
        var lingerTimeout = Connection.defaultLingerTimeout
        /// The node's wall clock and its loops' time, moved by the test (`ManualClock.advance(by:running:)`).
        var clock: ManualClock?
    }

    /// Every connection the listeners accepted and have not closed (the descriptor still open).
    let connectionBudget = ConnectionBudget(limit: 1000)

    /// A node of one loop whose wall clock and loop time are `clock`'s.
    convenience init(manualClock clock: ManualClock) throws {
        var options = Options(loops: 1)
        options.clock = clock
        try self.init(options)
    }

    init(_ options: Options = Options(), extraTransports: (WireFormats) -> [any BrowserTransport] = { _ in [] }) throws {
        let logger = InMemoryLogHandler.logger(logs)
        let fanOut = LoopFanOut(formats: formats)
        let topics = InMemoryTopicStore()
        broker = Broker(
            ports: Broker.Ports(
                topics: topics, bus: InMemoryClusterBus(sink: fanOut), authenticator: OpenSSLHMAC(secret: SharedSecret(Self.secret)!),
                claimsDecoder: JSONClaimsDecoder(), statistics: InMemorySubscriptionStatistics(),
                clock: options.clock ?? SystemClock()),
            topicTTL: .seconds(3600), version: "test", logger: logger)
        let transports: [any BrowserTransport] =
            [WebSocketTransport(settings: .init(), formats: formats), SSETransport(settings: options.sse, formats: formats)]
            + extraTransports(formats)
        var policy = Admission.Policy()
        policy.allowedOrigins = options.allowedOrigins
        let admission = Admission(broker: broker, policy: policy, logger: logger)
        group = try EventLoopGroup(count: options.loops, poller: .epoll, manualTime: options.clock)
        var address = SocketAddress(host: "127.0.0.1", port: 0)!
        for loop in group.loops {
            let shard = SubscriberShard(loop: loop, broker: broker, counters: counters, logger: logger)
            shard.start()
            fanOut.attach(shard)
            let router = Router()
            let context = TransportContext(loop: loop, broker: broker, admission: admission, shard: shard, logger: logger)
            let extra = transports.flatMap { $0.install(in: context, router: router) }
            let http = HTTPTransport(responder: router)
            let listener = try Listener(
                address: address, key: "test", loop: loop, transport: http, budget: connectionBudget,
                queueLimits: options.queueLimits, lingerTimeout: options.lingerTimeout, logger: logger)
            address = listener.address
            shards.append(shard)
            listeners.append(listener)
            drainables.append([http, shard] + extra)
        }
        group.start()
    }

    deinit { group.stopAndJoin() }

    func register(_ topic: String, requireToken: Bool = true) {
        broker.registerTopic(TopicName(topic)!, meta: TopicMeta(requireToken: requireToken)) {}
    }

    func publish(_ topic: String, _ payload: String) throws {
        try broker.publishEvent(topic: TopicName(topic)!, payload: JSONPayload(validatedBytes: Array(payload.utf8)))
    }

    /// A token as PHP's Worker.php mints it.
    func token(_ topic: String, userID: Int = 0, expires: Int? = nil) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let claims = "{\"user_id\":\(userID),\"topic\":\"\(topic)\",\"expires\":\(expires ?? (now.tv_sec + 3600))}"
        let head = Hex.encodeLowercase(Array(claims.utf8))
        let mac = Array(head.utf8).withUnsafeBytes { OpenSSLHMAC(secret: SharedSecret(Self.secret)!).authenticationCode(for: $0) }
        return head + "." + mac.description
    }

    /// Runs `body` on every loop in turn and returns the results; the loops keep running.
    func onLoops<T>(_ body: @escaping (SubscriberShard) -> T) -> [T] {
        shards.map { shard in shard.loop.runAndWait { _ in body(shard) } }
    }

    /// Connections subscribed across the loops.
    var subscribed: Int { onLoops { $0.subscribedCount }.reduce(0, +) }

    /// Waits (bounded) until `condition` holds, checking after each loop round trip.
    func wait(until condition: () -> Bool, timeoutSeconds: Double = 10) -> Bool {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let deadline = Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9 + timeoutSeconds
        while !condition() {
            clock_gettime(CLOCK_MONOTONIC, &spec)
            if Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9 > deadline { return false }
            _ = onLoops { _ in 0 }  // a round trip through every loop: what was queued before has run
        }
        return true
    }

    /// Starts a graceful shutdown on every loop, as SIGTERM does.
    func drain() {
        for (index, shard) in shards.enumerated() {
            let parts = LoopBound((listeners[index], drainables[index]))
            shard.loop.execute { _ in
                parts.value.0.close()
                for drainable in parts.value.1 { drainable.drain() }
            }
        }
    }
}

extension TestSocket {
    /// Sends a GET for `target` and reads the response head.
    func get(_ target: String, headers: [String] = []) throws -> String {
        try send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n")
        return try receive(through: "\r\n\r\n")
    }

    /// Opens an SSE stream and reads through the `retry:` preface.
    static func stream(_ node: NodeHarness, _ target: String, headers: [String] = []) throws -> TestSocket {
        let socket = try TestSocket(port: node.port)
        let head = try socket.get(target, headers: headers)
        precondition(head.hasPrefix("HTTP/1.1 200"), head)
        _ = try socket.receive(through: "\n\n")
        return socket
    }
}
