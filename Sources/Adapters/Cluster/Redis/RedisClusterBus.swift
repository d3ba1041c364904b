// Adapter: fans events out through one Redis pub/sub channel; drops its own echoes by origin ID.
public import Application
public import Domain
public import Logging
internal import Synchronization

/// A cluster bus over Redis pub/sub, interoperable with upstream nodes
/// (docs/protocol.md "Redis cluster").
///
/// Every publish is delivered to local subscribers first, then PUBLISHed as
/// `{"origin_id":…,"topic":…,"payload":…}` on `<prefix>events`, or on `<prefix>pusher` for a
/// Pusher channel, so upstream nodes never read an event that is not theirs. Envelopes from
/// other nodes are delivered locally; our own are recognised by origin ID and skipped. Redis
/// being down never blocks: local delivery goes on, and the publishes that could not be fanned
/// out are counted. Node messages (`NodeMessenger`) travel on `<prefix>cluster`, on the same
/// two connections, so they reach every node in the order they were sent.
public final class RedisClusterBus: ClusterBus, NodeMessenger, @unchecked Sendable {
    /// How often `PUBSUB NUMSUB` refreshes `cluster_nodes`.
    static let nodeCountInterval: Duration = .seconds(2)

    public let originID: String
    private let sink: any SubscriberSink
    private let loop: EventLoop
    private let channel: [UInt8]
    private let pusherChannel: [UInt8]
    private let clusterChannel: [UInt8]
    /// How this node's own messages begin (`ReplicaMessageJSON.isSent`).
    private let ownMarker: [UInt8]
    private let logger: Logger
    // Confined to `loop`, except `listener`, set before start.
    private var listener: (any NodeMessageListener)?
    private var clusterSubscribed = false
    /// The events channel's subscription is confirmed: history messages come back by it.
    private var eventsSubscribed = false
    private var messengerUp = false
    // Confined to `loop`.
    private var publisher: RedisConnection!
    private var subscriber: RedisConnection!
    private let nodes = Atomic<Int>(0)
    private let linkUp = Atomic<Bool>(false)
    private let notFannedOut = Atomic<Int>(0)
    private let received = Atomic<Int>(0)
    private let reconnects = Atomic<Int>(0)

    /// - Parameters:
    ///   - loop: the loop the Redis connections live on.
    ///   - originID: 16 lowercase hex characters, random per process.
    /// What a publish may find unanswered on the publishing connection before it is counted as
    /// not fanned out instead of queued: a hung Redis costs at most this much memory, and
    /// after recovery no burst larger than it follows.
    public struct QueueLimits: Sendable {
        public var bytes = 8 << 20
        public var commands = 10_000

        public init() {}
    }

    private let queueLimits: QueueLimits
    private let liveness: RedisConnection.Liveness
    /// Topics with history get their position from Redis (see `PositionScript`).
    private let history: HistoryRules
    private let positionKeyPrefix: String
    /// This node's own channel, which its publishing connection writes to and its subscribed
    /// connection reads: a subscription that stopped receiving shows as silence here.
    private let aliveChannel: [UInt8]
    // Confined to `loop`: when the subscription on the node's own channel was confirmed, and
    // the heartbeats: numbered, so a reply and the message it confirms are matched.
    private var aliveSubscribedAt: MonotonicTime?
    private var heartbeats = HeartbeatWatch()

    public init(
        endpoint: RedisEndpoint, prefix: String, originID: String, sink: any SubscriberSink, loop: EventLoop, logger: Logger,
        liveness: RedisConnection.Liveness = .init(), queueLimits: QueueLimits = .init(), history: HistoryRules = HistoryRules()
    ) {
        self.history = history
        positionKeyPrefix = prefix + "position:"
        self.queueLimits = queueLimits
        self.liveness = liveness
        aliveChannel = Array((prefix + "alive:" + originID).utf8)
        self.originID = originID
        self.sink = sink
        self.loop = loop
        self.channel = Array((prefix + "events").utf8)
        pusherChannel = Array((prefix + "pusher").utf8)
        clusterChannel = Array((prefix + "cluster").utf8)
        ownMarker = ReplicaMessageJSON.senderMarker(originID)
        self.logger = logger
        publisher = RedisConnection(name: "publish", endpoint: endpoint, loop: loop, logger: logger)
        subscriber = RedisConnection(name: "subscribe", endpoint: endpoint, loop: loop, logger: logger)
        publisher.liveness = liveness
        // Kept open when Redis stops answering: each PUBLISH on it then either gets its answer
        // (it ran) or is lost with the link (it is counted as not fanned out), never both.
        publisher.liveness.whenSilent = .wait
        subscriber.liveness = liveness
        subscriber.liveness.pings = false
    }

    /// Nodes subscribed to the channel (this one included); 0 while Redis is unreachable.
    public var nodeCount: Int? { nodes.load(ordering: .relaxed) }

    public var health: ClusterHealth? {
        ClusterHealth(
            connected: linkUp.load(ordering: .relaxed), publishesNotFannedOut: publishesNotFannedOut,
            reconnects: reconnects.load(ordering: .relaxed))
    }

    /// Publishes that reached local subscribers but not Redis (it was down).
    public var publishesNotFannedOut: Int { notFannedOut.load(ordering: .relaxed) }

    /// Envelopes from other nodes delivered here.
    public var envelopesReceived: Int { received.load(ordering: .relaxed) }

    public func start() throws {
        let bus = LoopBound(self)
        loop.execute { _ in bus.value.startOnLoop() }
    }

    public func shutdown() {
        let bus = LoopBound(self)
        loop.execute { _ in
            bus.value.publisher.stop()
            bus.value.subscriber.stop()
        }
    }

    private func startOnLoop() {
        subscriber.onReady = { [weak self] in
            guard let self else { return }
            if subscriber.reconnects > 0 { reconnects.wrappingAdd(1, ordering: .relaxed) }
            subscribe()
        }
        subscriber.onLost = { [weak self] in
            guard let self else { return }
            // What was published while unsubscribed never comes: no resume may span it.
            if eventsSubscribed { sink.historyInterrupted() }
            eventsSubscribed = false
            nodes.store(0, ordering: .relaxed)
            aliveSubscribedAt = nil
            heartbeats.reset()
            clusterSubscribed = false
            updateMessengerLink()
        }
        publisher.onReady = { [weak self] in
            guard let self else { return }
            if publisher.reconnects > 0 { reconnects.wrappingAdd(1, ordering: .relaxed) }
            linkUp.store(true, ordering: .relaxed)
            refreshNodeCount()
            updateMessengerLink()
        }
        publisher.onLost = { [weak self] in
            self?.linkUp.store(false, ordering: .relaxed)
            self?.updateMessengerLink()
        }
        publisher.onRecovered = { [weak self] in
            self?.linkUp.store(true, ordering: .relaxed)
            self?.updateMessengerLink()
        }
        publisher.start()
        subscriber.start()
        scheduleNodeCount()
        scheduleHeartbeat()
    }

    // MARK: - Out

    public func publish(_ event: PublishedEvent) {
        if history.rule(for: event.topic) != nil {
            publishWithPosition(event)
            return
        }
        sink.deliver(event)
        let envelope = Self.envelope(originID: originID, event: event)
        let target = event.topic.isNamespaced ? pusherChannel : channel
        if loop.inLoop {
            send(envelope, on: target)
        } else {
            let bus = LoopBound(self)
            loop.execute { _ in bus.value.send(envelope, on: target) }
        }
    }

    private func send(_ envelope: [UInt8], on target: [UInt8]) {
        let full = publisher.unansweredCommands >= queueLimits.commands || publisher.unansweredBytes + envelope.count > queueLimits.bytes
        let sent = publisher.state == .ready && !full
            && publisher.command([Array("PUBLISH".utf8), target, envelope]) { [weak self] reply in
                // No answer: the link was lost with the command on it, before Redis ran it.
                if reply == nil || reply?.isError == true { self?.countNotFannedOut(reason: "redis connection lost") }
            }
        if !sent { countNotFannedOut(reason: full ? "redis queue full" : "redis unavailable") }
    }

    /// A topic with history is delivered here only when its envelope comes back from Redis,
    /// with the position the script gave it: every node, this one included, then delivers the
    /// topic's messages in Redis's order with the same positions. When Redis cannot take it,
    /// it is delivered here at once without a position (which ends this node's record of the
    /// topic: a resume across it gets `resync`).
    private func publishWithPosition(_ event: PublishedEvent) {
        let bus = LoopBound(self)
        let (head, tail) = PositionScript.envelopeParts(originID: originID, event: event)
        let key = Array((positionKeyPrefix + event.topic.value).utf8)
        loop.execute { _ in
            let bus = bus.value
            let full = bus.publisher.unansweredCommands >= bus.queueLimits.commands
                || bus.publisher.unansweredBytes + head.count + tail.count > bus.queueLimits.bytes
            let epoch = Array(StreamPosition.epochText(.random(in: 1...UInt64.max)).utf8)
            // Without a confirmed subscription the message would not come back here: this
            // node's subscribers get it at once, without a position.
            if !bus.eventsSubscribed { bus.sink.deliver(event) }
            let echoed = bus.eventsSubscribed
            let sent = bus.publisher.state == .ready && !full
                && bus.publisher.command(PositionScript.command(key: key, channel: bus.channel, candidateEpoch: epoch, head: head, tail: tail)) { [weak bus] reply in
                    guard let bus else { return }
                    if reply == nil || reply?.isError == true {
                        if case .error(let text)? = reply { bus.logger.warning("position script failed", metadata: ["error": "\(text)"]) }
                        bus.countNotFannedOut(reason: "redis connection lost")
                        // A link lost before the answer may have run it: then the echo comes
                        // too, and local subscribers get the message twice rather than never.
                        if echoed { bus.sink.deliver(event) }
                    }
                }
            if !sent {
                bus.countNotFannedOut(reason: full ? "redis queue full" : "redis unavailable")
                if echoed { bus.sink.deliver(event) }
            }
        }
    }

    private func countNotFannedOut(reason: String) {
        let count = notFannedOut.wrappingAdd(1, ordering: .relaxed).newValue
        if count == 1 || count % 1000 == 0 {
            logger.warning("publish not fanned out", metadata: ["reason": "\(reason)", "count": "\(count)"])
        }
    }

    /// The upstream envelope; the payload bytes are copied in verbatim.
    static func envelope(originID: String, event: PublishedEvent) -> [UInt8] {
        var bytes = Array("{\"origin_id\":\"\(originID)\",\"topic\":".utf8)
        bytes += Array(JSONWriter.quoted(event.topic.value).utf8)
        bytes += Array(",\"payload\":".utf8)
        bytes += event.payload.bytes
        if let excluded = event.excludedSocket {
            // An extension field; upstream nodes ignore it (they never hold such a socket).
            bytes += Array(",\"except\":".utf8) + Array(JSONWriter.quoted(excluded).utf8)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    // MARK: - Node messages

    public func listen(_ listener: any NodeMessageListener) {
        self.listener = listener
    }

    /// Always through the loop's queue, even from the loop itself: messages sent from several
    /// threads under one lock keep that lock's order.
    /// Encoded on the bus loop, not under the caller's lock: a snapshot can be megabytes.
    public func send(_ message: ReplicaMessage) {
        let bus = LoopBound(self)
        loop.execute { _ in bus.value.sendMessage(ReplicaMessageJSON.encode(message)) }
    }

    private func sendMessage(_ bytes: [UInt8]) {
        // Dropped while the link is down or Redis hangs: the node re-sends its whole state once
        // the link is back, so a queue would only deliver what that state replaces. A message
        // larger than the queue's bytes (a large snapshot) goes when nothing else is waiting.
        let fits = publisher.unansweredBytes + bytes.count <= queueLimits.bytes || publisher.unansweredBytes == 0
        guard messengerUp, fits, publisher.unansweredCommands < queueLimits.commands else { return }
        _ = publisher.command([Array("PUBLISH".utf8), clusterChannel, bytes])
    }

    /// Up while this node can both send (publisher ready) and hear (subscribed to the channel).
    private func updateMessengerLink() {
        let up = publisher.state == .ready && clusterSubscribed
        guard up != messengerUp else { return }
        messengerUp = up
        listener?.linkChanged(up: up)
    }

    private func receiveMessage(_ data: [UInt8]) {
        // Every message this node sends comes back to it: skipped before it is parsed.
        guard !ReplicaMessageJSON.isSent(byMarker: ownMarker, data), let message = ReplicaMessageJSON.decode(data) else { return }
        listener?.received(message)
    }

    // MARK: - In

    private func subscribe() {
        aliveSubscribedAt = nil
        heartbeats.reset()
        subscriber.command([Array("SUBSCRIBE".utf8), aliveChannel], persistent: true) { [weak self] reply in
            guard let self, case .array(let parts)? = reply, parts.count == 3 else { return }
            if parts[0].string == "subscribe" { self.aliveSubscribedAt = self.loop.now }
            if parts[0].string == "message", case .string(let data) = parts[2], let number = UInt64(String(decoding: data, as: UTF8.self)) {
                self.heartbeats.heard(number)
            }
        }
        subscriber.command([Array("SUBSCRIBE".utf8), channel], persistent: true) { [weak self] reply in
            guard let self, let reply else { return }
            guard case .array(let parts) = reply, parts.count == 3, parts[0].string == "message", case .string(let data) = parts[2] else {
                if case .array(let parts) = reply, parts.first?.string == "subscribe" {
                    self.eventsSubscribed = true
                    self.logger.info("redis subscribed", metadata: ["channel": "\(String(decoding: self.channel, as: UTF8.self))"])
                    self.refreshNodeCount()
                }
                return
            }
            self.receive(data)
        }
        subscriber.command([Array("SUBSCRIBE".utf8), pusherChannel], persistent: true) { [weak self] reply in
            guard let self, case .array(let parts)? = reply, parts.count == 3, parts[0].string == "message", case .string(let data) = parts[2] else { return }
            self.receive(data)
        }
        subscriber.command([Array("SUBSCRIBE".utf8), clusterChannel], persistent: true) { [weak self] reply in
            guard let self, case .array(let parts)? = reply, parts.count == 3 else { return }
            if parts[0].string == "subscribe" {
                self.clusterSubscribed = true
                self.updateMessengerLink()
            } else if parts[0].string == "message", case .string(let data) = parts[2] {
                self.receiveMessage(data)
            }
        }
    }

    private func receive(_ data: [UInt8]) {
        guard let event = Self.decodeEnvelope(data, ignoring: originID) else { return }
        received.wrappingAdd(1, ordering: .relaxed)
        sink.deliver(event)
    }

    /// Reads an envelope; nil for our own, for malformed ones, and for unregistered-looking garbage.
    static func decodeEnvelope(_ data: [UInt8], ignoring ownOrigin: String) -> PublishedEvent? {
        data.withUnsafeBufferPointer { buffer -> PublishedEvent? in
            guard let object = try? JSONObjectFields(buffer) else { return nil }
            let position = object["position"].flatMap { object.string($0) }.flatMap { StreamPosition.parse($0) }
            // Our own come back to be delivered only when they carry a position (see `publishWithPosition`).
            if position == nil, let origin = object["origin_id"], object.string(origin) == ownOrigin { return nil }
            guard let topicField = object["topic"], let text = object.string(topicField), let topic = TopicName(wireValue: text),
                let payload = object["payload"]
            else { return nil }
            let excluded = object["except"].flatMap { object.string($0) }
            return PublishedEvent(
                topic: topic, payload: JSONPayload(validatedBytes: object.rawValue(payload)), excludedSocket: excluded, position: position)
        }
    }

    // MARK: - Liveness of the subscription

    /// Publishes to the node's own channel a few times per timeout. Only Redis's answer to such
    /// a PUBLISH is evidence about the subscription: 0 receivers means Redis no longer holds it
    /// (dropped without closing the link); a confirmed heartbeat not heard within a timeout
    /// means the path from Redis is broken. Either way the subscribed connection is remade.
    /// A hung Redis answers nothing, so it never causes a resubscription: the subscription
    /// stays and brings what Redis sends once it runs again, exactly once.
    private func scheduleHeartbeat() {
        loop.schedule(after: liveness.timeout / 3) { [weak self] _ in
            guard let self, self.publisher.state != .stopped else { return }
            if self.publisher.state == .ready, let subscribedAt = self.aliveSubscribedAt {
                let number = self.heartbeats.next()
                self.publisher.command([Array("PUBLISH".utf8), self.aliveChannel, Array(String(number).utf8)]) { [weak self] reply in
                    self?.heartbeatAnswered(reply, number: number, subscribedAt: subscribedAt)
                }
            }
            if self.subscriber.state == .ready, self.publisher.state == .ready,
                let silence = self.heartbeats.silence(longerThan: self.liveness.timeout)
            {
                self.resubscribe(because: "redis subscription silent", metadata: ["silent_for": "\(silence)"])
            }
            self.scheduleHeartbeat()
        }
    }

    private func heartbeatAnswered(_ reply: RedisReply?, number: UInt64, subscribedAt: MonotonicTime) {
        // A heartbeat sent for an earlier subscription says nothing about the current one.
        guard let receivers = reply?.integer, aliveSubscribedAt == subscribedAt else { return }
        if receivers == 0 {
            // Not from inside the hiredis callback: freeing a context there is not allowed.
            loop.schedule(after: .zero) { [weak self] _ in
                guard let self, self.aliveSubscribedAt == subscribedAt, self.subscriber.state == .ready else { return }
                self.resubscribe(because: "redis subscription dropped", metadata: [:])
            }
        } else {
            heartbeats.confirmed(number, at: loop.now)
        }
    }

    /// Only for a ready subscriber: abandoning it reports it lost, which resets the heartbeats.
    private func resubscribe(because message: Logger.Message, metadata: Logger.Metadata) {
        logger.warning(message, metadata: metadata.merging(["redis": "\(subscriber.name)"]) { $1 })
        subscriber.abandon(reason: "\(message)")
    }

    // MARK: - cluster_nodes

    private func scheduleNodeCount() {
        loop.schedule(after: Self.nodeCountInterval) { [weak self] _ in
            guard let self, self.publisher.state != .stopped else { return }
            self.refreshNodeCount()
            self.scheduleNodeCount()
        }
    }

    private func refreshNodeCount() {
        guard publisher.state == .ready else { return }
        publisher.command([Array("PUBSUB".utf8), Array("NUMSUB".utf8), channel]) { [weak self] reply in
            guard let self, case .array(let parts)? = reply, parts.count == 2, let count = parts[1].integer else { return }
            self.nodes.store(Int(count), ordering: .relaxed)
        }
    }
}
