// The retained messages of the topics with history, bounded in count, age and bytes.

/// What a resume from a position gets.
public enum HistoryReplay<Item> {
    /// Every message after the position, in order (none when it was the latest).
    case recovered([Item])
    /// The gap cannot be filled (expired, evicted, another epoch, a position from the future,
    /// or a topic this node has no record of): the client must refetch. `current` is the
    /// latest position known here, if any, to resume from next time.
    case resync(current: StreamPosition?)
}

/// The byte bounds of a node's history (a rule bounds count and age).
public struct HistoryLimits: Sendable, Equatable {
    public var topicBytes: Int
    public var totalBytes: Int

    public init(topicBytes: Int = 4 << 20, totalBytes: Int = 64 << 20) {
        self.topicBytes = topicBytes
        self.totalBytes = totalBytes
    }
}

/// The history of every topic with a history rule, as one node saw it: per topic the latest
/// position, the first position from which this node saw every message (`from`), and the
/// retained messages. A value; its owner confines it to one thread.
///
/// Bounds: per topic the rule's size and age and `Limits.topicBytes`; over all topics
/// `Limits.totalBytes`, evicting the oldest message of any topic first.
public struct TopicHistory<Item> {
    public typealias Limits = HistoryLimits

    struct Entry {
        let offset: UInt64
        let at: MonotonicTime
        let bytes: Int
        let item: Item
        /// Its place in the arrival order over all topics.
        let sequence: UInt64
    }

    struct Log {
        let rule: HistoryRule
        var epoch: UInt64
        var last: UInt64
        /// Every message from this offset to `last` was seen here.
        var from: UInt64

        /// A record that starts at `position`, after nothing (a new topic or epoch), a gap or a
        /// message without a position. Only an epoch's first message vouches for what came
        /// before it (nothing); otherwise a message without a position (from a node that knows
        /// no history) may have come just before it, unseen here, so a resume must start at or
        /// after it.
        static func startingFrom(_ offset: UInt64) -> UInt64 { offset <= 1 ? offset : offset &+ 1 }
        /// Dropped entries become nil at once (releasing their item); the slots are reclaimed
        /// when half the array is dropped.
        var entries: [Entry?] = []
        var head = 0
        var bytes = 0

        var retained: LazyMapSequence<ArraySlice<Entry?>, Entry> { entries[head...].lazy.map { $0! } }
        var first: Entry? { head < entries.count ? entries[head] : nil }
        var retainedCount: Int { entries.count - head }

        mutating func dropFirst() -> Entry {
            let entry = entries[head]!
            entries[head] = nil
            head += 1
            bytes -= entry.bytes
            if head == entries.count {
                entries.removeAll()
                head = 0
            } else if head > 16 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            return entry
        }

        mutating func clear() {
            entries.removeAll()
            head = 0
            bytes = 0
        }
    }

    public let limits: Limits
    /// For a node alone, which sees every message of every topic: the epoch of its positions and
    /// its rules, so a topic with no message yet stands at `<epoch>-0` and a resume from there
    /// is recovered. Nil in a cluster, where a node may have missed what came before it.
    private let completeness: (epoch: UInt64, rules: HistoryRules)?
    private(set) var logs: [TopicName: Log] = [:]
    /// A record ended on a node alone: a topic without one may have had messages after all.
    private var incomplete = false
    /// The arrival order over all topics, for the total bound. Entries already gone from their
    /// topic stay here until they reach the front or the order is rebuilt.
    private var order: [(topic: TopicName, sequence: UInt64)] = []
    private var orderHead = 0
    private var nextSequence: UInt64 = 0
    public private(set) var totalBytes = 0
    public private(set) var retainedCount = 0
    /// Messages dropped before their rule's size or age let them go (the byte bounds).
    public private(set) var evictedForBytes = 0

    /// - Parameter completeEpoch: the epoch of a node alone, and its rules (see `completeness`).
    public init(limits: Limits = Limits(), completeEpoch: (epoch: UInt64, rules: HistoryRules)? = nil) {
        self.limits = limits
        completeness = completeEpoch
    }

    /// The latest position of `topic` seen here, nil when none was (and this is not a node
    /// alone that knows the topic has had none).
    public func current(_ topic: TopicName) -> StreamPosition? {
        if let log = logs[topic] { return StreamPosition(epoch: log.epoch, offset: log.last) }
        guard let completeness, !incomplete, completeness.rules.rule(for: topic) != nil else { return nil }
        return StreamPosition(epoch: completeness.epoch, offset: 0)
    }

    /// Topics with a record here.
    public var topicCount: Int { logs.count }

    /// Entries of the arrival order, retained or not yet dropped from it: stays within a small
    /// multiple of `retainedCount`, so evictions by size or age leak nothing.
    public var orderedEntryCount: Int { order.count - orderHead }

    /// Records a message at `position`. A position at or before the latest of its epoch means
    /// the count went back (a Redis restored from disk, or a replica that was behind): the
    /// record starts again there, and positions from before get `resync`.
    public mutating func record(_ item: Item, bytes: Int, at position: StreamPosition, of topic: TopicName, rule: HistoryRule, now: MonotonicTime) {
        // Out of the dictionary while changed, so its entries are never copied.
        var log: Log
        if var existing = logs.removeValue(forKey: topic) {
            if existing.epoch != position.epoch {
                forget(&existing)
                log = Log(rule: rule, epoch: position.epoch, last: position.offset, from: Log.startingFrom(position.offset))
            } else {
                if position.offset != existing.last &+ 1 {
                    // A gap, or a count that went back: what came before can no longer be vouched for.
                    forget(&existing)
                    existing.from = Log.startingFrom(position.offset)
                }
                existing.last = position.offset
                log = existing
            }
        } else {
            log = Log(rule: rule, epoch: position.epoch, last: position.offset, from: Log.startingFrom(position.offset))
        }
        let entry = Entry(offset: position.offset, at: now, bytes: bytes, item: item, sequence: nextSequence)
        nextSequence &+= 1
        log.entries.append(entry)
        log.bytes += bytes
        totalBytes += bytes
        retainedCount += 1
        order.append((topic, entry.sequence))
        logs[topic] = log
        trim(topic, now: now)
        while totalBytes > limits.totalBytes, evictOldest() {}
    }

    /// A message of `topic` arrived without a position (from a node that knows no history):
    /// what is retained no longer tells the whole story, so the record of the topic ends. On a
    /// node alone the topic's position is then unknown too, not 0.
    public mutating func lose(_ topic: TopicName) {
        guard var log = logs.removeValue(forKey: topic) else { return }
        forget(&log)
        if completeness != nil { incomplete = true }
    }

    /// Every record ends (see `lose`): the link messages come by was lost.
    public mutating func loseAll() {
        for topic in Array(logs.keys) { lose(topic) }
    }

    /// What a subscriber that last saw `since` missed.
    public mutating func replay(_ topic: TopicName, since: StreamPosition, now: MonotonicTime) -> HistoryReplay<Item> {
        guard logs[topic] != nil else {
            let current = current(topic)
            return since == current ? .recovered([]) : .resync(current: current)
        }
        trim(topic, now: now)
        let log = logs[topic]!
        let current = StreamPosition(epoch: log.epoch, offset: log.last)
        guard since.epoch == log.epoch, since.offset <= log.last else { return .resync(current: current) }
        if since.offset == log.last { return .recovered([]) }
        let firstRetained = log.first?.offset ?? log.last &+ 1
        guard since.offset &+ 1 >= max(log.from, firstRetained) else { return .resync(current: current) }
        return .recovered(Array(log.retained.filter { $0.offset > since.offset }.map(\.item)))
    }

    /// Drops what the rule's size and age and the topic's byte bound no longer allow.
    private mutating func trim(_ topic: TopicName, now: MonotonicTime) {
        guard var log = logs.removeValue(forKey: topic) else { return }
        let oldest = now.advanced(by: .zero - log.rule.ttl)
        while let first = log.first {
            let overSize = log.retainedCount > log.rule.size
            let overBytes = log.bytes > limits.topicBytes
            guard overSize || overBytes || first.at <= oldest else { break }
            if overBytes && !overSize && first.at > oldest { evictedForBytes += 1 }
            let gone = log.dropFirst()
            totalBytes -= gone.bytes
            retainedCount -= 1
        }
        logs[topic] = log
        compactOrderIfSparse()
    }

    /// Drops the oldest retained message of any topic; false when nothing is retained.
    private mutating func evictOldest() -> Bool {
        while orderHead < order.count {
            let (topic, sequence) = order[orderHead]
            orderHead += 1
            guard let first = logs[topic]?.first, first.sequence == sequence, var log = logs.removeValue(forKey: topic) else { continue }
            let gone = log.dropFirst()
            totalBytes -= gone.bytes
            retainedCount -= 1
            evictedForBytes += 1
            logs[topic] = log
            compactOrderIfSparse()
            return true
        }
        return false
    }

    private mutating func forget(_ log: inout Log) {
        totalBytes -= log.bytes
        retainedCount -= log.retainedCount
        log.clear()
    }

    /// Keeps the order list within a small multiple of what is retained: entries that left
    /// their topic by size or age are dropped from it here.
    private mutating func compactOrderIfSparse() {
        let live = order.count - orderHead
        guard live > 64, live > 2 * retainedCount + 64 else { return }
        var kept: [(topic: TopicName, sequence: UInt64)] = []
        kept.reserveCapacity(retainedCount)
        for (topic, log) in logs {
            for entry in log.retained { kept.append((topic, entry.sequence)) }
        }
        kept.sort { $0.sequence < $1.sequence }
        order = kept
        orderHead = 0
    }
}
