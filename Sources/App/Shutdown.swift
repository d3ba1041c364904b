// Graceful shutdown in two phases (STYLE B21): stop accepting and drain, then force-close.
import Adapters
import Logging

/// What the running node holds per loop, for shutdown.
struct RunningNode {
    private var parts: [(loop: EventLoop, listeners: [Listener], transports: [any Transport])] = []
    var budget: ConnectionBudget?

    mutating func add(loop: EventLoop, listeners: [Listener], transports: [any Transport]) {
        parts.append((loop, listeners, transports))
    }

    /// Stops accepting, lets transports close gracefully, and force-closes what is left at `deadline`.
    func drain(deadline: Duration, logger: Logger) {
        for part in parts {
            let work = UncheckedBox(part)
            part.loop.execute { _ in
                for listener in work.value.listeners { listener.close() }
                for transport in work.value.transports { transport.drain() }
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
                let work = UncheckedBox(part)
                part.loop.execute { _ in for transport in work.value.transports { transport.closeAll() } }
            }
        }
    }
}

/// Carries loop-confined objects to their own loop through `execute`. Only the loop that owns
/// the contents may open the box.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
