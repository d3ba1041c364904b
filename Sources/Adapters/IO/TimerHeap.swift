// Deadlines of one loop in a binary heap: O(log n) to add or fire, nothing per idle tick.

/// The timers of one event loop whose delays vary (the delays every connection shares wait in
/// `TimerLane`s instead; `LoopTimers` holds both). Cancellation is the caller's: a fired closure checks whether it is
/// still wanted (connections compare a generation), which keeps the heap free of removals.
///
/// A timer may name its owner's `TimerGuard`: it then never runs once the owner is gone, so its
/// closure may hold the owner `unowned(unsafe)`. Dropped only when due, a closed connection's
/// timers would stay until due, and under churn the heap would hold every connection of the
/// last timeout (about 250 bytes each: 60 MB after 240,000 connect/close cycles in
/// bench/soak.py, when the ping timers were here). So when
/// the heap has doubled since it was last compacted, the timers of owners that are gone are
/// dropped, and the heap holds about what the live owners scheduled.
struct TimerHeap {
    private struct Entry {
        let deadline: MonotonicNanoseconds
        let sequence: UInt64  // FIFO among equal deadlines
        let owner: TimerGuard?
        let action: (EventLoop) -> Void
    }

    private var entries: [Entry] = []
    private var nextSequence: UInt64 = 0
    private var compactAt = TimerHeap.smallestCompaction
    static let smallestCompaction = 1024

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var nextDeadline: MonotonicNanoseconds? { entries.isEmpty ? nil : entries[0].deadline }

    mutating func schedule(at deadline: MonotonicNanoseconds, owner: TimerGuard? = nil, _ action: @escaping (EventLoop) -> Void) {
        if entries.count >= compactAt { compact() }
        nextSequence &+= 1
        entries.append(Entry(deadline: deadline, sequence: nextSequence, owner: owner, action: action))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest timer due at `now`, its owner gone or not (the caller
    /// skips those; `LoopTimers` merges this heap with its lanes one timer at a time).
    mutating func popDue(now: MonotonicNanoseconds) -> (owner: TimerGuard?, action: (EventLoop) -> Void)? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        entries.swapAt(0, entries.count - 1)
        let due = entries.removeLast()
        siftDown(from: 0)
        return (due.owner, due.action)
    }

    /// Drops the timers of owners that are gone, into a buffer of the size that is left (the
    /// memory of the old one goes back), and restores the heap order bottom-up.
    private mutating func compact() {
        entries = entries.filter { $0.owner?.ownerIsGone != true }
        var index = entries.count / 2
        while index > 0 {
            index -= 1
            siftDown(from: index)
        }
        compactAt = max(Self.smallestCompaction, entries.count * 2)
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var best = parent
            if left < entries.count, Self.precedes(entries[left], entries[best]) { best = left }
            if right < entries.count, Self.precedes(entries[right], entries[best]) { best = right }
            guard best != parent else { break }
            entries.swapAt(parent, best)
            parent = best
        }
    }

    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence)
    }
}

/// Monotonic nanoseconds, the loop's unit of time.
typealias MonotonicNanoseconds = Int64
