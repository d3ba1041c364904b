// A subscriber's resume from a position, answered from its loop's history.
public import Domain

/// What a new subscription of a topic gets besides live pushes, read in the same turn as it
/// subscribed: nothing can fall between the missed messages and the live ones.
public enum Resumption {
    /// It named no position. `current` is the topic's latest position, if it has history here.
    case fresh(current: StreamPosition?)
    /// Every message after its position, in order; `current` is the latest.
    case recovered(current: StreamPosition, missed: [EncodedEvent])
    /// Its position cannot be resumed from (unreadable, expired, evicted, another epoch, from
    /// the future, or a topic without history here): the client must refetch.
    case resync(current: StreamPosition?)
}

extension SubscriberShard {
    /// - Parameter since: the position the client sent (`Last-Event-ID`, `since`), unparsed;
    ///   nil when it sent none.
    /// - Parameter room: frames and bytes the replay may take; a larger one is a resync (it
    ///   would close the socket as too slow, and the same resume would follow).
    /// - Parameter format: the format the replay will be written in (`sendMissed`), whose
    ///   frames count against `room.bytes`.
    public func resume(
        _ topic: TopicName, since: [UInt8]?, room: (frames: Int, bytes: Int) = (.max, .max), in format: WireFormat
    ) -> Resumption {
        guard let since else { return .fresh(current: currentPosition(of: topic)) }
        guard let position = StreamPosition.parse(since) else {
            loop.metrics.resumesResync &+= 1
            return .resync(current: currentPosition(of: topic))
        }
        switch replay(topic, since: position) {
        case .recovered(let missed):
            if missed.count > room.frames || missed.reduce(0, { $0 + ($1.frame(for: format)?.count ?? 0) }) > room.bytes {
                loop.metrics.resumesResync &+= 1
                return .resync(current: currentPosition(of: topic))
            }
            loop.metrics.resumesRecovered &+= 1
            loop.metrics.messagesReplayed &+= missed.count
            return .recovered(current: currentPosition(of: topic) ?? position, missed: missed)
        case .resync(let current):
            loop.metrics.resumesResync &+= 1
            return .resync(current: current)
        }
    }

    /// Writes the missed messages in `format` with the slow-consumer rule; stops if it closed.
    public func sendMissed(_ missed: [EncodedEvent], in format: WireFormat, to subscriber: Subscriber) {
        for event in missed {
            guard let frame = event.frame(for: format) else { continue }
            guard send(frame, to: subscriber) else { return }
        }
    }
}
