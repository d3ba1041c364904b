// Graceful shutdown in two phases (STYLE B21): stop accepting and drain, then force-close.
import Adapters
import Logging

/// What the running node holds per loop, for shutdown.
struct RunningNode {
    private var parts: [LoopParts] = []
    var budget: ConnectionBudget?

    mutating func add(loop: EventLoop, listeners: [Listener], transports: [any Transport]) {
        parts.append(LoopParts(loop: loop, listeners: listeners, transports: transports))
    }

    /// Stops accepting, lets transports close gracefully, and force-closes what is left at `deadline`.
    func drain(deadline: Duration, logger: Logger) {
        for part in parts {
            part.loop.execute { _ in
                for listener in part.listeners { listener.close() }
                for transport in part.transports { transport.drain() }
            }
        }
        let step: Duration = .milliseconds(20)
        var waited: Duration = .zero
        while (budget?.current ?? 0) > 0 && waited < deadline {
            ProcessSignals.sleep(step)
            waited += step
        }
        let left = budget?.current ?? 0
        if left > 0 {
            logger.warning("drain deadline passed", metadata: ["connections": "\(left)"])
            for part in parts {
                part.loop.execute { _ in for transport in part.transports { transport.closeAll() } }
            }
        }
    }
}

/// One loop's listeners and transports. Loop-confined: only `loop` touches them, through
/// `execute` (a final class rather than a tuple in a generic box, see the [cluster] notes).
final class LoopParts: @unchecked Sendable {
    let loop: EventLoop
    let listeners: [Listener]
    let transports: [any Transport]

    init(loop: EventLoop, listeners: [Listener], transports: [any Transport]) {
        self.loop = loop
        self.listeners = listeners
        self.transports = transports
    }
}
