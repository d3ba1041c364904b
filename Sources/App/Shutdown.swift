// Graceful shutdown in two phases: stop accepting and drain, then force-close.
import Adapters
import Logging

/// What the running node holds per loop, for shutdown.
struct RunningNode {
    private var parts: [LoopParts] = []
    var budget: ConnectionBudget?

    mutating func add(loop: EventLoop, listeners: [Listener], drainables: [any Drainable]) {
        parts.append(LoopParts(loop: loop, listeners: listeners, drainables: drainables))
    }

    /// Stops accepting, lets transports close gracefully, and force-closes what is left at `deadline`.
    func drain(deadline: Duration, logger: Logger) {
        for part in parts {
            let confined = LoopBound(part)
            part.loop.execute { _ in
                for listener in confined.value.listeners { listener.close() }
                for drainable in confined.value.drainables { drainable.drain() }
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
                let confined = LoopBound(part)
                part.loop.execute { _ in for drainable in confined.value.drainables { drainable.closeAll() } }
            }
        }
    }
}

/// One loop's listeners and what must hear about shutdown; only `loop` touches them.
final class LoopParts {
    let loop: EventLoop
    let listeners: [Listener]
    let drainables: [any Drainable]

    init(loop: EventLoop, listeners: [Listener], drainables: [any Drainable]) {
        self.loop = loop
        self.listeners = listeners
        self.drainables = drainables
    }
}
