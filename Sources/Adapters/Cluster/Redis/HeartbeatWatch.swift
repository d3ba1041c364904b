// Whether the subscription brings what Redis confirms it sent.
internal import Domain

/// The node's numbered heartbeats on its own channel: which ones Redis confirmed (its PUBLISH
/// reply counted this node's subscription) and which ones the subscription brought.
///
/// The subscription is silent only when Redis confirmed a heartbeat that has not arrived, and
/// then, a whole timeout later, confirmed another: Redis is demonstrably running and still not
/// delivering. A reply that overtakes its message, or a Redis paused right after a reply,
/// never counts as silence on its own.
struct HeartbeatWatch {
    private var sent: UInt64 = 0
    private var lastHeard: UInt64 = 0
    /// The oldest confirmed heartbeat not heard yet, and when Redis confirmed it.
    private var awaited: (number: UInt64, at: MonotonicTime)?
    /// The newest confirmation after `awaited`.
    private var latest: (number: UInt64, at: MonotonicTime)?

    mutating func next() -> UInt64 {
        sent += 1
        return sent
    }

    mutating func confirmed(_ number: UInt64, at time: MonotonicTime) {
        guard number > lastHeard else { return }
        if awaited == nil {
            awaited = (number, time)
        } else if number > (latest?.number ?? 0) {
            latest = (number, time)
        }
    }

    mutating func heard(_ number: UInt64) {
        lastHeard = max(lastHeard, number)
        guard let waiting = awaited, lastHeard >= waiting.number else { return }
        // Everything up to the awaited one arrived; a later confirmation becomes the awaited one.
        if let newer = latest, newer.number > lastHeard {
            awaited = newer
        } else {
            awaited = nil
        }
        latest = nil
    }

    /// How long the awaited heartbeat has been missing, if Redis confirmed a later one at
    /// least `timeout` after it.
    func silence(longerThan timeout: Duration) -> Duration? {
        guard let waiting = awaited, let newer = latest else { return nil }
        let gap = newer.at.duration(since: waiting.at)
        return gap >= timeout ? gap : nil
    }

    mutating func reset() {
        lastHeard = sent
        awaited = nil
        latest = nil
    }
}
