// A loop's timers: a heap for deadlines of any kind, and a lane for each delay many timers share.

/// One loop's timers, fired in deadline order across the heap and the lanes. A timer whose owner
/// is gone is dropped when it comes due, or earlier when its heap or lane compacts.
struct LoopTimers {
    private var heap = TimerHeap()
    private var lanes: [TimerLane] = []
    /// Lanes are looked up by a linear search at every schedule; past this many delays the
    /// search would cost more than the heap it saves, so further delays go to the heap.
    static let maximumLanes = 8

    var count: Int { lanes.reduce(heap.count) { $0 + $1.count } }

    var nextDeadline: MonotonicNanoseconds? { earliest().deadline }

    /// The earliest deadline, and the lane it is in (nil: the heap's, or none).
    private func earliest() -> (deadline: MonotonicNanoseconds?, lane: Int?) {
        var deadline = heap.nextDeadline
        var lane: Int?
        for index in lanes.indices {
            if let next = lanes[index].nextDeadline, deadline.map({ next < $0 }) ?? true {
                deadline = next
                lane = index
            }
        }
        return (deadline, lane)
    }

    mutating func schedule(at deadline: MonotonicNanoseconds, owner: TimerGuard?, _ action: @escaping (EventLoop) -> Void) {
        heap.schedule(at: deadline, owner: owner, action)
    }

    /// `deadline` (the loop's `now` plus `delay`) in the lane of `delay`.
    mutating func schedule(
        at deadline: MonotonicNanoseconds, sharedDelay delay: MonotonicNanoseconds, owner: TimerGuard?, _ action: @escaping (EventLoop) -> Void
    ) {
        if let lane = lanes.firstIndex(where: { $0.delay == delay }) {
            lanes[lane].schedule(at: deadline, owner: owner, action)
        } else if lanes.count < Self.maximumLanes {
            lanes.append(TimerLane(delay: delay))
            lanes[lanes.count - 1].schedule(at: deadline, owner: owner, action)
        } else {
            heap.schedule(at: deadline, owner: owner, action)
        }
    }

    /// Removes and returns the earliest action due at `now` whose owner, if it names one, lives.
    mutating func popDue(now: MonotonicNanoseconds) -> ((EventLoop) -> Void)? {
        while true {
            let (earliest, earliestLane) = earliest()
            guard let earliest, earliest <= now else { return nil }
            let due = earliestLane.flatMap { lanes[$0].popDue(now: now).map { ($0.owner, $0.action) } } ?? heap.popDue(now: now)
            guard let (owner, action) = due else { return nil }
            if owner?.ownerIsGone != true { return action }
        }
    }
}
