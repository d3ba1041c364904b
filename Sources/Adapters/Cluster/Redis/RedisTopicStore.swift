// Adapter: the topic registry in Redis, with a local view so lookups never wait on the network.
public import Application
public import Domain
public import Logging
internal import Synchronization

/// Topics as `<prefix>topic:<topic>` keys holding `{"require_token":…}` with the TTL as expiry
/// (docs/protocol.md "Redis cluster"), readable and writable by upstream Go nodes.
///
/// Lookups answer from a local view: complete after the first SCAN, updated at once for our own
/// registrations and those of other Swift nodes (a notice on `<prefix>registry`), and within
/// `syncInterval` for anyone else (a plain `SET`/`DEL`, an upstream node). SCAN, not KEYS, so a
/// large keyspace never blocks Redis.
public final class RedisTopicStore: TopicStore, LifecycleService, @unchecked Sendable {
    static let syncInterval: Duration = .seconds(1)
    static let scanCount = "500"

    private let view = Locked(TopicRegistry())
    /// What this node registered, to re-assert after Redis comes back: topic → (meta, expiry).
    private let owned = Locked<[TopicName: (TopicMeta, MonotonicTime)]>([:])
    private let loop: EventLoop
    private let keyPrefix: String
    private let channel: [UInt8]
    private let originID: String
    private let clock: any Clock
    private let logger: Logger
    // Confined to `loop`.
    private var commands: RedisConnection!
    private var notices: RedisConnection!
    private var scanSeen: Set<TopicName> = []
    /// Unregistered while Redis could not be told, or told on a link lost before it answered:
    /// deleted when Redis is back, before anything is read from it (the SCAN would otherwise
    /// bring the topic back). Confined to the loop.
    private var pendingDeletes: Set<TopicName> = []
    /// Topics the view held when the current SCAN began: only these may be dropped when it ends,
    /// so a notice that arrived during the SCAN is not undone by it.
    private var scanBaseline: Set<TopicName> = []
    /// Misses asked before the link was ever up: a node that has just started (a rolling
    /// restart, its browsers reconnecting at once) would otherwise answer 404 for topics
    /// Redis holds. Answered when the link comes up, or with "unknown" after
    /// `firstLinkPatience`; bounded, beyond the bound a miss is answered at once.
    private var missesBeforeFirstLink: [(TopicName, @Sendable (TopicMeta?) -> Void)] = []
    /// The link came up once, or the patience ran out: misses are answered at once from then on.
    private var firstLinkSettled = false
    static let firstLinkPatience: Duration = .seconds(2)
    static let missesBeforeFirstLinkLimit = 10_000
    private var scanning = false

    public init(
        endpoint: RedisEndpoint, prefix: String, originID: String, clock: any Clock, loop: EventLoop, logger: Logger,
        liveness: RedisConnection.Liveness = .init()
    ) {
        self.loop = loop
        self.keyPrefix = prefix + "topic:"
        self.channel = Array((prefix + "registry").utf8)
        self.originID = originID
        self.clock = clock
        self.logger = logger
        commands = RedisConnection(name: "registry", endpoint: endpoint, loop: loop, logger: logger)
        notices = RedisConnection(name: "registry-notices", endpoint: endpoint, loop: loop, logger: logger)
        commands.liveness = liveness
        notices.liveness = liveness
        notices.liveness.pings = false
    }

    // MARK: - TopicStore (any loop)

    public func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime) {
        register(topic, meta: meta, ttl: ttl, now: now) {}
    }

    /// `confirmed` runs once Redis acknowledged the key, so any node that looks it up finds it;
    /// at once when Redis is down (the registration is re-asserted when it returns).
    public func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime, confirmed: @escaping @Sendable () -> Void) {
        view.withLock { $0.register(topic, meta: meta, ttl: ttl, now: now) }
        guard let ttl else {  // Node-local topics (worker.status) stay out of Redis.
            confirmed()
            return
        }
        owned.withLock { $0[topic] = (meta, now.advanced(by: ttl)) }
        onLoop { store in store.write(topic, meta: meta, ttl: ttl, confirmed: confirmed) }
    }

    /// On a miss, asks Redis (GET and PTTL) before answering: the key may have been written a
    /// moment ago by another node, or before this node started and finished its first SCAN.
    public func lookupThrough(_ topic: TopicName, now: MonotonicTime, answer: @escaping @Sendable (TopicMeta?) -> Void) {
        if let meta = lookup(topic, now: now) {
            answer(meta)
            return
        }
        onLoop { store in store.fetchOne(topic, answer: answer) }
    }

    private func fetchOne(_ topic: TopicName, answer: @escaping @Sendable (TopicMeta?) -> Void) {
        guard commands.state == .ready else {
            if !firstLinkSettled && commands.state != .stopped && missesBeforeFirstLink.count < Self.missesBeforeFirstLinkLimit {
                if missesBeforeFirstLink.isEmpty {
                    loop.schedule(after: Self.firstLinkPatience) { [weak self] _ in self?.answerMissesBeforeFirstLink(found: false) }
                }
                missesBeforeFirstLink.append((topic, answer))
                return
            }
            answer(nil)
            return
        }
        let keyName = keyPrefix + topic.value
        var ttlMilliseconds: Int64 = -2
        commands.command([Array("PTTL".utf8), Array(keyName.utf8)]) { reply in ttlMilliseconds = reply?.integer ?? -2 }
        let issued = commands.command([Array("GET".utf8), Array(keyName.utf8)]) { [weak self] reply in
            guard let self, case .string(let data)? = reply, ttlMilliseconds != -2 else {
                answer(nil)
                return
            }
            let meta = Self.meta(from: data)
            let ttl: Duration? = ttlMilliseconds >= 0 ? .milliseconds(ttlMilliseconds) : nil
            self.view.withLock { $0.register(topic, meta: meta, ttl: ttl, now: self.clock.monotonic) }
            answer(meta)
        }
        if !issued { answer(nil) }
    }

    static func meta(from data: [UInt8]) -> TopicMeta {
        data.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer), let field = object["require_token"], let value = object.bool(field) else {
                return .secureDefault
            }
            return TopicMeta(requireToken: value)
        }
    }

    public func unregister(_ topic: TopicName, now: MonotonicTime) {
        view.withLock { _ = $0.unregister(topic, now: now) }
        owned.withLock { _ = $0.removeValue(forKey: topic) }
        onLoop { store in store.delete(topic) }
    }

    public func lookup(_ topic: TopicName, now: MonotonicTime) -> TopicMeta? {
        view.withLock { $0.lookup(topic, now: now) }
    }

    public func liveTopics(now: MonotonicTime) -> [TopicName] {
        view.withLock { $0.liveTopics(now: now) }
    }

    public func reapExpired(now: MonotonicTime) -> Int {
        owned.withLock { owned in
            for (topic, entry) in owned where entry.1 < now { owned.removeValue(forKey: topic) }
        }
        return view.withLock { $0.reap(now: now).count }
    }

    // MARK: - Lifecycle

    public func start() throws {
        onLoop { store in
            store.commands.onReady = { [weak store] in store?.connected() }
            store.notices.onReady = { [weak store] in store?.listen() }
            store.commands.start()
            store.notices.start()
            store.scheduleSync()
        }
    }

    public func shutdown() {
        onLoop { store in
            store.commands.stop()
            store.notices.stop()
        }
    }

    private func onLoop(_ body: @escaping (RedisTopicStore) -> Void) {
        if loop.inLoop {
            body(self)
        } else {
            let store = LoopBound(self)
            let work = LoopBound(body)
            loop.execute { _ in work.value(store.value) }
        }
    }

    // MARK: - Writes (on the loop)

    private func key(_ topic: TopicName) -> [UInt8] { Array((keyPrefix + topic.value).utf8) }

    private func value(_ meta: TopicMeta) -> [UInt8] { Array("{\"require_token\":\(meta.requireToken)}".utf8) }

    private func write(_ topic: TopicName, meta: TopicMeta, ttl: Duration, confirmed: (@Sendable () -> Void)? = nil) {
        pendingDeletes.remove(topic)  // Registered again: the newer call wins.
        // EX takes whole seconds; round up so a key never expires before the local view.
        let seconds = max(1, (ttl.wholeNanoseconds + 999_999_999) / 1_000_000_000)
        guard commands.state == .ready else {  // Re-asserted on reconnect.
            confirmed?()
            return
        }
        let issued = commands.command([Array("SET".utf8), key(topic), value(meta), Array("EX".utf8), Array(String(seconds).utf8)]) { _ in
            confirmed?()
        }
        if !issued { confirmed?() }
        notify("register", topic, meta: meta, ttlMilliseconds: ttl.wholeNanoseconds / 1_000_000)
    }

    private func delete(_ topic: TopicName) {
        pendingDeletes.insert(topic)
        guard commands.state == .ready else { return }
        let issued = commands.command([Array("DEL".utf8), key(topic)]) { [weak self] reply in
            if reply != nil { self?.pendingDeletes.remove(topic) }
        }
        if issued { notify("unregister", topic, meta: nil, ttlMilliseconds: 0) }
    }

    private func notify(_ operation: String, _ topic: TopicName, meta: TopicMeta?, ttlMilliseconds: Int64) {
        var notice = "{\"origin_id\":\"\(originID)\",\"op\":\"\(operation)\",\"topic\":\(JSONWriter.quoted(topic.value))"
        if let meta { notice += ",\"require_token\":\(meta.requireToken),\"ttl_ms\":\(ttlMilliseconds)" }
        notice += "}"
        commands.command([Array("PUBLISH".utf8), channel, Array(notice.utf8)])
    }

    /// The link came up (`found`: ask Redis for each), or did not in time (answer "unknown").
    private func answerMissesBeforeFirstLink(found: Bool) {
        firstLinkSettled = true
        let waiting = missesBeforeFirstLink
        missesBeforeFirstLink = []
        for (topic, answer) in waiting {
            if found { fetchOne(topic, answer: answer) } else { answer(nil) }
        }
    }

    /// Redis is (back): re-assert what we registered, then read everything.
    private func connected() {
        answerMissesBeforeFirstLink(found: true)
        if !pendingDeletes.isEmpty {
            logger.info("redis unregistrations sent", metadata: ["count": "\(pendingDeletes.count)"])
            for topic in pendingDeletes { delete(topic) }
        }
        let now = clock.monotonic
        let mine = owned.withLock { $0 }
        for (topic, entry) in mine where entry.1 > now {
            write(topic, meta: entry.0, ttl: entry.1.duration(since: now))
        }
        if !mine.isEmpty { logger.info("redis registrations re-asserted", metadata: ["count": "\(mine.count)"]) }
        sync()
    }

    // MARK: - Reads (on the loop)

    private func listen() {
        notices.command([Array("SUBSCRIBE".utf8), channel], persistent: true) { [weak self] reply in
            guard let self, case .array(let parts)? = reply, parts.count == 3, parts[0].string == "message",
                case .string(let data) = parts[2]
            else { return }
            self.applyNotice(data)
        }
    }

    private func applyNotice(_ data: [UInt8]) {
        data.withUnsafeBufferPointer { buffer in
            guard let object = try? JSONObjectFields(buffer), let origin = object["origin_id"], object.string(origin) != originID,
                let op = object["op"].flatMap(object.string), let topicText = object["topic"].flatMap(object.string),
                let topic = TopicName(topicText)
            else { return }
            let now = clock.monotonic
            if op == "register", let ttl = object["ttl_ms"].flatMap(object.int64) {
                pendingDeletes.remove(topic)  // Registered elsewhere since: that call is newer.
                let meta = TopicMeta(requireToken: object["require_token"].flatMap(object.bool) ?? true)
                view.withLock { $0.register(topic, meta: meta, ttl: .milliseconds(ttl), now: now) }
            } else if op == "unregister" {
                view.withLock { _ = $0.unregister(topic, now: now) }
                owned.withLock { _ = $0.removeValue(forKey: topic) }
            }
        }
    }

    private func scheduleSync() {
        loop.schedule(after: Self.syncInterval) { [weak self] _ in
            guard let self, self.commands.state != .stopped else { return }
            self.sync()
            self.scheduleSync()
        }
    }

    /// One full SCAN of the topic keys; topics gone from Redis leave the view when it completes.
    private func sync() {
        guard commands.state == .ready, !scanning else { return }
        scanning = true
        scanSeen = []
        let now = clock.monotonic
        scanBaseline = Set(view.withLock { $0.liveTopics(now: now) })
        scanStep(cursor: "0")
    }

    private func scanStep(cursor: String) {
        let started = commands.command([
            Array("SCAN".utf8), Array(cursor.utf8), Array("MATCH".utf8), Array((keyPrefix + "*").utf8),
            Array("COUNT".utf8), Array(Self.scanCount.utf8),
        ]) { [weak self] reply in
            guard let self else { return }
            guard case .array(let parts)? = reply, parts.count == 2, let next = parts[0].string, case .array(let keys) = parts[1] else {
                self.scanning = false
                return
            }
            let names = keys.compactMap(\.string)
            self.fetch(names[...]) {
                if next == "0" {
                    self.finishScan()
                } else {
                    self.scanStep(cursor: next)
                }
            }
        }
        if !started { scanning = false }
    }

    // PTTL and GET for every key of a batch, pipelined on the one connection; `done` runs once
    // the last reply is in (replies arrive in order).
    private func fetch(_ keys: ArraySlice<String>, then done: @escaping () -> Void) {
        guard !keys.isEmpty else {
            done()
            return
        }
        var remaining = keys.count
        for keyName in keys {
            let issued = commands.command([Array("PTTL".utf8), Array(keyName.utf8)]) { [weak self] reply in
                guard let self else { return }
                if let milliseconds = reply?.integer, milliseconds != -2, let topic = TopicName(String(keyName.dropFirst(self.keyPrefix.count))) {
                    self.scanSeen.insert(topic)
                    self.readValue(of: keyName, topic: topic, ttlMilliseconds: milliseconds)
                }
                remaining -= 1
                if remaining == 0 { done() }
            }
            if !issued {
                scanning = false
                return
            }
        }
    }

    private func readValue(of keyName: String, topic: TopicName, ttlMilliseconds: Int64) {
        commands.command([Array("GET".utf8), Array(keyName.utf8)]) { [weak self] reply in
            guard let self, case .string(let data)? = reply else { return }
            let meta = Self.meta(from: data)
            let ttl: Duration? = ttlMilliseconds >= 0 ? .milliseconds(ttlMilliseconds) : nil
            let now = self.clock.monotonic
            self.view.withLock { $0.register(topic, meta: meta, ttl: ttl, now: now) }
        }
    }

    private func finishScan() {
        scanning = false
        let gone = scanBaseline.subtracting(scanSeen)
        let mine = Set(owned.withLock { $0.keys })
        let now = clock.monotonic
        view.withLock { view in
            for topic in gone where !mine.contains(topic) && topic != .workerStatus {
                view.unregister(topic, now: now)
            }
        }
    }
}
