// Timer lanes and their merge with the heap: deadline order, owners that are gone, compaction,
// and the per-turn budget that keeps a burst of timeouts from holding up the loop's I/O.
@testable import Adapters
import Dispatch
import Synchronization
import Testing

struct TimerLaneTests {
    /// Pops every action due at `now`, running each on an idle loop, and returns the tags they recorded.
    private static func fire(_ timers: inout LoopTimers, now: MonotonicNanoseconds, on loop: EventLoop, log: Log) -> [Int] {
        log.tags = []
        while let action = timers.popDue(now: now) { action(loop) }
        return log.tags
    }

    final class Log {
        var tags: [Int] = []
    }

    @Test func aLaneFiresInTheOrderItWasFilledAndOnlyWhatIsDue() throws {
        let loop = try EventLoop(index: 0)
        let log = Log()
        var timers = LoopTimers()
        for (now, tag) in [(0, 1), (5, 2), (5, 3), (9, 4)] {
            timers.schedule(at: MonotonicNanoseconds(now) + 100, sharedDelay: 100, owner: nil) { _ in log.tags.append(tag) }
        }
        #expect(timers.nextDeadline == 100)
        #expect(Self.fire(&timers, now: 99, on: loop, log: log) == [])
        #expect(Self.fire(&timers, now: 105, on: loop, log: log) == [1, 2, 3])
        #expect(timers.count == 1)
        #expect(Self.fire(&timers, now: 1_000, on: loop, log: log) == [4])
        #expect(timers.nextDeadline == nil)
    }

    @Test func lanesAndTheHeapFireInOneDeadlineOrder() throws {
        let loop = try EventLoop(index: 0)
        let log = Log()
        var timers = LoopTimers()
        timers.schedule(at: 50, sharedDelay: 50, owner: nil) { _ in log.tags.append(50) }
        timers.schedule(at: 30, owner: nil) { _ in log.tags.append(30) }
        timers.schedule(at: 20, sharedDelay: 20, owner: nil) { _ in log.tags.append(20) }
        timers.schedule(at: 20 + 20, sharedDelay: 20, owner: nil) { _ in log.tags.append(40) }
        timers.schedule(at: 10, owner: nil) { _ in log.tags.append(10) }
        #expect(timers.nextDeadline == 10)
        #expect(Self.fire(&timers, now: 60, on: loop, log: log) == [10, 20, 30, 40, 50])
    }

    @Test func timersOfOwnersThatAreGoneNeverRun() throws {
        let loop = try EventLoop(index: 0)
        let log = Log()
        var timers = LoopTimers()
        let gone = TimerGuard()
        let live = TimerGuard()
        timers.schedule(at: 10, sharedDelay: 10, owner: gone) { _ in log.tags.append(1) }
        timers.schedule(at: 1 + 10, sharedDelay: 10, owner: live) { _ in log.tags.append(2) }
        timers.schedule(at: 5, owner: gone) { _ in log.tags.append(3) }
        gone.ownerDeinitialized()
        #expect(Self.fire(&timers, now: 100, on: loop, log: log) == [2])
    }

    @Test func aLaneCompactsAwayTheOwnersThatAreGoneAndKeepsItsOrder() throws {
        let loop = try EventLoop(index: 0)
        let log = Log()
        var timers = LoopTimers()
        var tag = 0
        var liveOwners: [TimerGuard] = []
        // Closed connections' timers between live ones: far more than a compaction's worth.
        for now in 0..<(10 * TimerLane.smallestCompaction) {
            let owner = TimerGuard()
            let isLive = now % 100 == 0
            let recorded = tag
            timers.schedule(at: MonotonicNanoseconds(now) + 1_000_000, sharedDelay: 1_000_000, owner: owner) { _ in log.tags.append(recorded) }
            if isLive {
                tag += 1
                liveOwners.append(owner)
            } else {
                owner.ownerDeinitialized()
            }
        }
        #expect(timers.count < 2 * TimerLane.smallestCompaction + tag)
        #expect(Self.fire(&timers, now: .max, on: loop, log: log) == Array(0..<tag))
        #expect(liveOwners.count == tag)
    }

    @Test func delaysBeyondTheLanesGoToTheHeapAndStillFire() throws {
        let loop = try EventLoop(index: 0)
        let log = Log()
        var timers = LoopTimers()
        let delays = (1...(LoopTimers.maximumLanes + 3)).map { MonotonicNanoseconds($0 * 10) }
        for delay in delays.reversed() {
            timers.schedule(at: delay, sharedDelay: delay, owner: nil) { _ in log.tags.append(Int(delay)) }
        }
        #expect(timers.count == delays.count)
        #expect(Self.fire(&timers, now: .max, on: loop, log: log) == delays.map { Int($0) })
    }

    @Test func aTimerDueAtTheEndOfTimeStillFires() throws {
        let loop = try EventLoop(index: 0)
        let log = Log()
        var timers = LoopTimers()
        timers.schedule(at: .max, sharedDelay: 10, owner: nil) { _ in log.tags.append(1) }
        #expect(timers.nextDeadline == .max)
        #expect(Self.fire(&timers, now: .max, on: loop, log: log) == [1])
    }

    /// A task handed to the loop from the first of many due timers runs after the turn's
    /// budget of timers, not after all of them: the loop went round between.
    @Test(arguments: PollerKind.allCases)
    func aBurstOfDueTimersYieldsToTheLoopAfterTheTurnsBudget(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        let burst = 4 * EventLoop.timersPerTurn
        let order = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        harness.loop.execute { loop in
            for index in 0..<burst {
                loop.schedule(afterSharedDelay: .milliseconds(5)) { loop in
                    order.withLock { $0.append("timer") }
                    if index == 0 { loop.execute { _ in order.withLock { $0.append("task") } } }
                    if index == burst - 1 { done.signal() }
                }
            }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        let log = order.withLock { $0 }
        #expect(log.count == burst + 1)
        #expect(log.firstIndex(of: "task") == EventLoop.timersPerTurn)
    }
}
