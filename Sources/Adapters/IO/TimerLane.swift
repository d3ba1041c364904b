// Timers that all wait one delay: a queue in the order they were set, which is their deadline order.

/// Every connection arms the same few delays (the auth timeout, the ping interval, the linger
/// after a close), and a loop's clock only moves forward, so timers of one delay come due in the
/// order they were scheduled. A queue holds them at O(1) to add and to fire. In the heap, each
/// of them cost O(log n) swaps, each swap a retain and a release of two references: 2-3 ms in
/// one turn when the auth timeouts of 10,000 connections opened in a burst came due
/// (docs/adr/0015-timer-lanes.md).
struct TimerLane {
    struct Entry {
        let deadline: MonotonicNanoseconds
        let owner: TimerGuard?
        let action: (EventLoop) -> Void
    }

    let delay: MonotonicNanoseconds
    /// `entries[head...]` wait; the slots before `head` have fired and are empty.
    private var entries: [Entry?] = []
    private var head = 0
    private var compactAt = TimerLane.smallestCompaction
    static let smallestCompaction = 1024

    init(delay: MonotonicNanoseconds) {
        self.delay = delay
    }

    var count: Int { entries.count - head }
    /// The first entry's deadline, kept apart: the loop reads it every turn, and reading it
    /// from the entry would copy the entry, a retain and a release of its two references.
    private(set) var nextDeadline: MonotonicNanoseconds?

    /// `deadline` is the loop's `now` plus `delay`; `now` never goes back, so it is the latest
    /// of the lane.
    mutating func schedule(at deadline: MonotonicNanoseconds, owner: TimerGuard?, _ action: @escaping (EventLoop) -> Void) {
        assert(entries.last??.deadline ?? .min <= deadline, "a loop's clock went back")
        if count >= compactAt { compact() }
        entries.append(Entry(deadline: deadline, owner: owner, action: action))
        if nextDeadline == nil { nextDeadline = deadline }
    }

    /// Removes and returns the first entry of the lane if it is due at `now`.
    mutating func popDue(now: MonotonicNanoseconds) -> Entry? {
        guard let next = nextDeadline, next <= now, let first = entries[head] else { return nil }
        entries[head] = nil
        head += 1
        defer { nextDeadline = head < entries.count ? entries[head]?.deadline : nil }
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= Self.smallestCompaction && head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return first
    }

    /// Under churn a lane would hold every connection closed within the last `delay`; when it
    /// has doubled since it was last compacted, the timers of owners that are gone are dropped.
    /// Filtering keeps the order, so the lane stays sorted.
    private mutating func compact() {
        entries = entries[head...].filter { $0?.owner?.ownerIsGone != true }
        head = 0
        nextDeadline = entries.first??.deadline
        compactAt = max(Self.smallestCompaction, count * 2)
    }
}
