// Deadlines of one loop in a binary heap: O(log n) to add or fire, nothing per idle tick.

/// Timers of one event loop. Cancellation is the caller's: a fired closure checks whether it is
/// still wanted (connections compare a generation), which keeps the heap free of removals.
struct TimerHeap {
    private struct Entry {
        let deadline: MonotonicNanoseconds
        let sequence: UInt64  // FIFO among equal deadlines
        let action: (EventLoop) -> Void
    }

    private var entries: [Entry] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }
    var nextDeadline: MonotonicNanoseconds? { entries.first?.deadline }

    mutating func schedule(at deadline: MonotonicNanoseconds, _ action: @escaping (EventLoop) -> Void) {
        nextSequence &+= 1
        entries.append(Entry(deadline: deadline, sequence: nextSequence, action: action))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest action if it is due at `now`.
    mutating func popDue(now: MonotonicNanoseconds) -> ((EventLoop) -> Void)? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        entries.swapAt(0, entries.count - 1)
        let due = entries.removeLast()
        var parent = 0
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
        return due.action
    }

    mutating func removeAll() {
        entries.removeAll()
    }

    private static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence)
    }
}

/// Monotonic nanoseconds, the loop's unit of time.
typealias MonotonicNanoseconds = Int64
