// Wire formats: how a published event is written for one kind of subscriber, encoded once per event.
public import Application
public import Domain

/// Encodes a published event into the bytes one kind of subscriber reads (a WebSocket push frame,
/// an SSE event, ...). Called at most once per event, from the publishing thread; the frame it
/// returns is shared by every subscriber of that format on every loop.
public protocol EventEncoder: Sendable {
    func encode(_ event: PublishedEvent) -> EncodedFrame
    /// Whether its subscribers read namespaced topics (a transport's own channels) rather than
    /// registered ones. An event is encoded only for the formats that can have subscribers of it.
    var readsNamespacedTopics: Bool { get }
}

extension EventEncoder {
    public var readsNamespacedTopics: Bool { false }
}

/// One registered wire format: a small index into the node's format table. One word, since
/// every subscriber carries it.
public struct WireFormat: Sendable, Hashable {
    /// Position in `WireFormats`, below `WireFormats.capacity`.
    public let index: Int

    public init(index: Int) {
        self.index = index
    }

    /// This format's bit in a shard's "formats in use" mask.
    var bit: UInt64 { 1 << UInt64(index) }
}

/// The node's wire formats, registered by the transports before the loops start; read-only after.
public final class WireFormats: @unchecked Sendable {
    /// The in-use masks are one 64-bit word.
    public static let capacity = 64

    private(set) var encoders: [any EventEncoder] = []
    private(set) var names: [String] = []
    /// The formats a topic's history keeps its messages in: one per transport, the one every
    /// subscriber of that transport can read (a replay is not compressed, which permessage-deflate
    /// allows message by message).
    private(set) var retainedMask: UInt64 = 0

    public init() {}

    /// Adds a format; call before the loops start.
    /// - Parameter retainedForHistory: whether a topic's history keeps its messages in this
    ///   format (for replay to every subscriber of its transport).
    public func register(_ name: String, _ encoder: any EventEncoder, retainedForHistory: Bool = false) -> WireFormat {
        precondition(encoders.count < Self.capacity, "more than \(Self.capacity) wire formats")
        encoders.append(encoder)
        names.append(name)
        let format = WireFormat(index: encoders.count - 1)
        if retainedForHistory { retainedMask |= format.bit }
        return format
    }

    public var count: Int { encoders.count }

    /// The name `format` was registered with, for logs and metrics.
    public func name(of format: WireFormat) -> String { names[format.index] }

    /// Encodes `event` once for each format whose bit is set in `needed`; no other work.
    func encode(_ event: PublishedEvent, needed: UInt64) -> EncodedEvent {
        var frames = [EncodedFrame?](repeating: nil, count: encoders.count)
        var remaining = needed
        let namespaced = event.topic.isNamespaced
        while remaining != 0 {
            let index = remaining.trailingZeroBitCount
            remaining &= remaining - 1
            if index < encoders.count && encoders[index].readsNamespacedTopics == namespaced {
                frames[index] = encoders[index].encode(event)
            }
        }
        return EncodedEvent(topic: event.topic, frames: frames, excludedSocket: event.excludedSocket, position: event.position)
    }
}

/// One published event, encoded for every format that had subscribers when it was published.
public struct EncodedEvent: Sendable {
    public let topic: TopicName
    let frames: [EncodedFrame?]
    /// The connection that must not get it, as its transport names it (see `SocketDirectory`).
    public let excludedSocket: String?
    /// Its place in the topic's stream (a topic with history), nil otherwise.
    public let position: StreamPosition?
    /// The history rule of its topic, when it has one: each loop records the event (or, without
    /// a position, ends its record of the topic).
    public internal(set) var historyRule: HistoryRule?
    /// Its topic keeps only its newest unsent push per subscriber (`latest_only`).
    public internal(set) var latestOnly = false

    public init(topic: TopicName, frames: [EncodedFrame?], excludedSocket: String? = nil, position: StreamPosition? = nil) {
        self.topic = topic
        self.frames = frames
        self.excludedSocket = excludedSocket
        self.position = position
    }

    /// The same event with only the frames of `mask`, and no rule: what a history keeps.
    func keeping(_ mask: UInt64) -> EncodedEvent {
        var kept = frames
        for index in kept.indices where mask & (1 << UInt64(index)) == 0 { kept[index] = nil }
        return EncodedEvent(topic: topic, frames: kept, position: position)
    }

    /// The bytes of its frames, for the history's bounds.
    var byteCount: Int { frames.reduce(0) { $0 + ($1?.count ?? 0) } }

    /// The shared frame for `format`, nil when nobody read that format as the event was encoded.
    @inline(__always)
    public func frame(for format: WireFormat) -> EncodedFrame? {
        format.index < frames.count ? frames[format.index] : nil
    }
}
