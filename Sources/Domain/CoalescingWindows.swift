// Bursts folded per topic: the first publish goes at once, the rest of the window's into one.

/// The open coalescing windows of a node, one per topic in a burst; a quiet topic has none,
/// so it costs neither memory nor a timer. A value whose transitions say what to do: deliver
/// now, hold, or arm the window's end.
///
/// The first publish of a burst is delivered at once (the leading edge) and opens a window;
/// publishes inside it replace one another as the pending item; at the window's end the
/// pending one is delivered (the trailing edge) and a new window opens behind it, so a steady
/// stream gives one delivery per window. A window that ends with nothing pending closes.
public struct CoalescingWindows<Item> {
    struct Window {
        var ends: MonotonicTime
        var pending: Item?
    }

    private var windows: [TopicName: Window] = [:]
    /// Publishes that never went out because a later one of the same window replaced them.
    public private(set) var folded = 0

    public init() {}

    /// Topics in a burst now.
    public var openCount: Int { windows.count }

    public enum Admission {
        /// Deliver it now; the window ends at `windowEnds` (arm a timer for `windowEnded`).
        case deliver(Item, windowEnds: MonotonicTime)
        /// Held as the window's pending item.
        case held
    }

    public enum Ending {
        /// Deliver the pending item; a new window ends at `nextEnds` (arm a timer again).
        case deliver(Item, nextEnds: MonotonicTime)
        /// The window closed: the topic is quiet again.
        case closed
        /// Not this window's end yet (a timer of a window since replaced): nothing to do.
        case early
    }

    public mutating func publish(_ item: Item, to topic: TopicName, window: Duration, now: MonotonicTime) -> Admission {
        if let slot = windows.index(forKey: topic) {
            if windows.values[slot].pending != nil { folded += 1 }
            windows.values[slot].pending = item
            return .held
        }
        let ends = now.advanced(by: window)
        windows[topic] = Window(ends: ends, pending: nil)
        return .deliver(item, windowEnds: ends)
    }

    public mutating func windowEnded(_ topic: TopicName, window: Duration, now: MonotonicTime) -> Ending {
        guard let slot = windows.index(forKey: topic) else { return .closed }
        guard now >= windows.values[slot].ends else { return .early }
        guard let pending = windows.values[slot].pending else {
            windows.remove(at: slot)
            return .closed
        }
        let ends = now.advanced(by: window)
        windows.values[slot] = Window(ends: ends, pending: nil)
        return .deliver(pending, nextEnds: ends)
    }
}

extension CoalescingWindows.Admission: Equatable where Item: Equatable {}
extension CoalescingWindows.Ending: Equatable where Item: Equatable {}
