// Moving a manual clock under running loops: each loop is woken, and the call returns once the
// timers that came due have run on every loop.
@testable import Adapters
import Dispatch
import TestSupport

extension ManualClock {
    /// Moves the clock and waits (at most 10 s) until every loop ran a turn after the move:
    /// timers run after the turn's tasks, so a task that queues another task returns only after
    /// the timers due at the new time have fired. False when a loop did not get there.
    @discardableResult
    func advance(by duration: Duration, running loops: [EventLoop]) -> Bool {
        advance(by: duration)
        let done = DispatchSemaphore(value: 0)
        for loop in loops {
            loop.execute { loop in loop.execute { _ in done.signal() } }
        }
        return loops.allSatisfy { _ in done.wait(timeout: .now() + 10) == .success }
    }
}
