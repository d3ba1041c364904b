// Adapter: the node roster in a Redis hash, written and read the way upstream 0.3.0 nodes do.
public import Application
public import Domain
public import Logging
internal import Synchronization

/// The roster as the hash `<prefix>nodes` (`wavelog:nodes` with the default prefix): field =
/// node id, value = the entry's JSON (docs/protocol.md "Node roster").
///
/// On its own connection, so a roster read never queues behind publishes: the own entry is
/// written when the link comes up and every heartbeat, the hash read after each write, stale
/// entries pruned, and the own entry removed on shutdown. Status requests answer from the last
/// read, which is at most one heartbeat old while Redis answers.
public final class RedisRoster: ClusterRoster, @unchecked Sendable {
    /// A read older than this says nothing about the cluster any more: the roster reads as
    /// unknown (`null`), as upstream's does while Redis does not answer.
    static let staleAfter: Duration = NodeRoster.heartbeatInterval * 2
    /// How long shutdown waits for Redis to confirm the own entry's removal.
    static let removalTimeout: Duration = .seconds(2)
    /// Entries read at most; a larger roster is not a worker cluster.
    static let maxEntries = 4096

    private let key: [UInt8]
    private let describe: DescribeNode
    private let clock: any Clock
    private let loop: EventLoop
    private let logger: Logger
    private let lastRead = Mutex<(reading: RosterReading, at: MonotonicTime)?>(nil)
    private let finished = Atomic<Bool>(false)
    // Confined to `loop`.
    private var connection: RedisConnection!
    private var cycle = RosterCycle()
    /// The fields of the last read as Redis holds them, by the key they were decoded to: a
    /// field that is not UTF-8 is deleted by its own bytes.
    private var fields: [String: [UInt8]] = [:]
    private var removalDeadlineArmed = false

    public init(
        endpoint: RedisEndpoint, prefix: String, describe: DescribeNode, clock: any Clock, loop: EventLoop, logger: Logger,
        liveness: RedisConnection.Liveness = .init()
    ) {
        self.key = Array((prefix + "nodes").utf8)
        self.describe = describe
        self.clock = clock
        self.loop = loop
        self.logger = logger
        connection = RedisConnection(name: "roster", endpoint: endpoint, loop: loop, logger: logger)
        connection.liveness = liveness
    }

    // MARK: - ClusterRoster (any thread)

    public var reading: RosterReading? {
        guard let read = lastRead.withLock({ $0 }), clock.monotonic.duration(since: read.at) <= Self.staleAfter else { return nil }
        // The own entry as of now rather than as last written.
        let own = describe()
        return RosterReading(entries: read.reading.entries.filter { $0.identity.id != own.identity.id } + [own], readAt: read.reading.readAt)
    }

    // MARK: - Lifecycle

    public func start() throws {
        let roster = LoopBound(self)
        loop.execute { _ in roster.value.startOnLoop() }
    }

    /// Removes the own entry (waiting at most `removalTimeout` for Redis), then closes the link.
    public func shutdown() {
        let roster = LoopBound(self)
        loop.execute { _ in roster.value.perform(roster.value.cycle.stop()) }
        let step: Duration = .milliseconds(10)
        var waited: Duration = .zero
        while !finished.load(ordering: .acquiring) && waited < Self.removalTimeout + .milliseconds(500) {
            ProcessSignals.sleep(step)
            waited += step
        }
    }

    private func startOnLoop() {
        connection.onReady = { [weak self] in
            guard let self else { return }
            perform(cycle.linkReady())
        }
        connection.onLost = { [weak self] in
            guard let self else { return }
            perform(cycle.linkLost())
        }
        connection.start()
        scheduleHeartbeat()
    }

    private func scheduleHeartbeat() {
        loop.schedule(after: NodeRoster.heartbeatInterval) { [weak self] _ in
            guard let self, cycle.state != .stopped, cycle.state != .removing else { return }
            perform(cycle.heartbeatDue())
            scheduleHeartbeat()
        }
    }

    // MARK: - Actions

    private func perform(_ action: RosterCycle.Action) {
        switch action {
        case .none: break
        case .write:
            let own = describe()
            let value = RosterEntryJSON.encode(NodeRoster.standing(of: own, at: own.seenAt))
            let sent = connection.command([Array("HSET".utf8), key, Array(own.identity.id.utf8), Array(value.utf8)]) { [weak self] reply in
                guard let self else { return }
                perform(cycle.written(ok: reply != nil && reply?.isError == false))
            }
            if !sent { perform(cycle.written(ok: false)) }
        case .read:
            let sent = connection.command([Array("HGETALL".utf8), key]) { [weak self] reply in
                guard let self else { return }
                let read = reply.flatMap(Self.entries(in:))
                if let read { fields = Dictionary(read.map { ($0.key, $0.field) }, uniquingKeysWith: { first, _ in first }) }
                perform(cycle.read(read?.map { (key: $0.key, entry: $0.entry) }, now: clock.wallTime))
            }
            if !sent { perform(cycle.read(nil, now: clock.wallTime)) }
        case .publish(let entries, let stale):
            lastRead.withLock { $0 = (RosterReading(entries: entries, readAt: clock.wallTime), clock.monotonic) }
            if !stale.isEmpty {
                logger.info("roster: stale nodes removed", metadata: ["ids": "\(stale.joined(separator: ","))"])
                _ = connection.command([Array("HDEL".utf8), key] + stale.map { fields[$0] ?? Array($0.utf8) })
            }
        case .removeSelf:
            let sent = connection.command([Array("HDEL".utf8), key, Array(describe.identity.id.utf8)]) { [weak self] _ in
                guard let self else { return }
                perform(cycle.removed())
            }
            if sent {
                armRemovalDeadline()
            } else {
                perform(cycle.removed())
            }
        case .awaitLinkToRemove:
            armRemovalDeadline()
        case .finish:
            lastRead.withLock { $0 = nil }
            // Not inside a hiredis callback (a reply or the link's loss): stopping frees the context.
            loop.schedule(after: .zero) { [weak self] _ in
                guard let self else { return }
                connection.stop()
                finished.store(true, ordering: .releasing)
            }
        }
    }

    /// One deadline for the whole removal, however it began: shutdown waits on it.
    private func armRemovalDeadline() {
        guard !removalDeadlineArmed else { return }
        removalDeadlineArmed = true
        loop.schedule(after: Self.removalTimeout) { [weak self] _ in
            guard let self else { return }
            perform(cycle.removed())
        }
    }

    /// The entries of an HGETALL reply with their keys and raw fields; malformed ones are skipped.
    static func entries(in reply: RedisReply) -> [(key: String, field: [UInt8], entry: NodeEntry)]? {
        guard case .array(let items) = reply else { return nil }
        var entries: [(key: String, field: [UInt8], entry: NodeEntry)] = []
        var index = 0
        while index + 1 < items.count, entries.count < maxEntries {
            if case .string(let field) = items[index], case .string(let value) = items[index + 1] {
                let key = String(decoding: field, as: UTF8.self)
                if let entry = RosterEntryJSON.decode(value, key: key) { entries.append((key, field, entry)) }
            }
            index += 2
        }
        return entries
    }
}
