// Graceful shutdown: stop taking subscribers, close them paced over a period, then force-close.
import Adapters
import Logging

/// What the running node holds per loop, for shutdown.
struct RunningNode {
    private var parts: [LoopParts] = []
    var budget: ConnectionBudget?

    mutating func add(_ part: LoopParts) {
        parts.append(part)
    }

    /// Stops accepting subscribers, closes the open ones spread over `period` (all at once for
    /// zero), waits for them up to `deadline` more, and force-closes what is left; a second
    /// SIGTERM or SIGINT meanwhile closes the rest at once, a third cuts them off. The internal port stays open until then:
    /// the backend's publishes still reach the clients not closed yet, and the readiness
    /// probes answer 503 so that a load balancer sends no one new.
    func drain(period: Duration, deadline: Duration, logger: Logger) {
        for part in parts {
            let confined = LoopBound(part)
            part.loop.execute { _ in
                let part = confined.value
                for listener in part.publicListeners { listener.close() }
                for drainable in part.publicDrainables { drainable.drain() }
                part.shard.drain(over: period)
            }
        }
        let step: Duration = .milliseconds(20)
        var waited: Duration = .zero
        var limit = period + deadline
        var hurried = false
        while (budget?.current ?? 0) > 0 && waited < limit {
            guard ProcessSignals.awaitTermination(for: step) else {
                waited += step
                continue
            }
            // Asked again: the rest get their close now, and a third time closes them outright.
            guard !hurried else { break }
            hurried = true
            logger.notice("second signal: closing the rest at once", metadata: ["connections": "\(budget?.current ?? 0)"])
            for part in parts {
                let confined = LoopBound(part)
                part.loop.execute { _ in confined.value.shard.hurryDrain() }
            }
            limit = min(limit, waited + deadline)
        }
        let left = budget?.current ?? 0
        if left > 0 {
            logger.warning("drain deadline passed", metadata: ["connections": "\(left)"])
            for part in parts {
                let confined = LoopBound(part)
                part.loop.execute { _ in
                    confined.value.shard.closeAll()
                    for drainable in confined.value.publicDrainables { drainable.closeAll() }
                }
            }
        }
        for part in parts {
            let confined = LoopBound(part)
            part.loop.execute { _ in
                for listener in confined.value.internalListeners { listener.close() }
                for drainable in confined.value.internalDrainables { drainable.drain() }
            }
        }
    }
}

/// One loop's listeners and what must hear about shutdown; only `loop` touches them.
final class LoopParts {
    let loop: EventLoop
    let publicListeners: [Listener]
    let internalListeners: [Listener]
    let shard: SubscriberShard
    /// The public port's HTTP connections and the transports' own state.
    let publicDrainables: [any Drainable]
    let internalDrainables: [any Drainable]

    init(
        loop: EventLoop, publicListeners: [Listener], internalListeners: [Listener], shard: SubscriberShard,
        publicDrainables: [any Drainable], internalDrainables: [any Drainable]
    ) {
        self.loop = loop
        self.publicListeners = publicListeners
        self.internalListeners = internalListeners
        self.shard = shard
        self.publicDrainables = publicDrainables
        self.internalDrainables = internalDrainables
    }
}
