// Running a piece of a test on a loop's thread and waiting for its result: the one way tests
// reach what a loop confines.
@testable import Adapters
import Dispatch
import Synchronization
import Testing
import TestSupport

extension EventLoop {
    /// Runs `body` on this loop and waits (at most 10 s) for it. The task lets go of `body`
    /// before it signals: a `body` holding a harness must not be the last reference, or the
    /// harness would be freed on the loop's thread, which cannot join itself.
    func runAndWait<T>(_ body: @escaping (EventLoop) -> T) -> T {
        let result = Mutex<UncheckedSendable<T>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let work = UncheckedSendable(TaskBody(body))
        execute { loop in
            let value = work.value.run(loop)
            result.withLock { $0 = UncheckedSendable(value) }
            done.signal()
        }
        precondition(done.wait(timeout: .now() + 10) == .success, "loop \(index) did not run the task")
        return result.withLock { $0 }!.value
    }
}

/// A closure run once, then let go of.
private final class TaskBody<T> {
    private var body: ((EventLoop) -> T)?

    init(_ body: @escaping (EventLoop) -> T) { self.body = body }

    func run(_ loop: EventLoop) -> T {
        let taken = body!
        body = nil
        return taken(loop)
    }
}

/// A value one thread writes and another reads after a semaphore handed it over.
final class Box<T> {
    var value: T
    init(_ value: T) { self.value = value }
}

/// A value handed to another thread whose use the test orders itself (a semaphore, a loop task).
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
