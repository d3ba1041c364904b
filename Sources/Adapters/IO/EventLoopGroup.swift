// The loops of a node, each on its own thread.
internal import Glibc
public import Application

/// `threads` event loops, each running on a dedicated thread.
public final class EventLoopGroup: @unchecked Sendable {
    public let loops: [EventLoop]
    private var threads: [pthread_t] = []

    /// - Parameter manualTime: a test's clock for the loops' time (see `EventLoop`).
    public init(count: Int, poller: PollerKind = .epoll, manualTime: (any Application.Clock)? = nil) throws(SystemError) {
        precondition(count > 0, "an event loop group needs at least one loop")
        var loops: [EventLoop] = []
        for index in 0..<count { loops.append(try EventLoop(index: index, poller: poller, manualTime: manualTime)) }
        self.loops = loops
    }

    /// Starts one thread per loop. Call once.
    public func start() {
        for loop in loops {
            let box = Unmanaged.passRetained(ThreadBody { loop.run() }).toOpaque()
            var thread = pthread_t()
            let result = pthread_create(&thread, nil, { argument in
                let body = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            }, box)
            precondition(result == 0, "pthread_create: \(SystemError(call: "", errno: result))")
            threads.append(thread)
        }
    }

    /// Stops every loop and waits for its thread to end. Called on one of the loops' own threads
    /// (its owner freed by a task), that thread cannot wait for itself: it is detached and ends
    /// when its turn returns.
    public func stopAndJoin() {
        for loop in loops { loop.stop() }
        for thread in threads {
            if pthread_equal(thread, pthread_self()) != 0 {
                pthread_detach(thread)
            } else {
                pthread_join(thread, nil)
            }
        }
        threads.removeAll()
    }

    /// The loop for the `n`th item, round-robin.
    public func loop(for n: Int) -> EventLoop {
        loops[n % loops.count]
    }
}

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
