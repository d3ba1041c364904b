// Every loop's counters, and how a scrape gathers them without a lock on the counting side.
public import Application
internal import Domain
internal import Synchronization

/// The node's metrics: each loop's `LoopMetrics`, the engine's counters, the application's
/// status. Built before the loops start; a scrape asks every loop for its counters through
/// `execute` and answers when the last one has replied.
public final class MetricsRegistry: @unchecked Sendable {
    // Written only before the loops start (App wiring); read-only afterwards.
    private var loops: [(EventLoop, LoopMetrics)] = []
    private var transports: [(name: String, formats: [WireFormat])] = []
    let broker: Broker
    let counters: EngineCounters
    let version: String

    public init(broker: Broker, counters: EngineCounters, version: String) {
        self.broker = broker
        self.counters = counters
        self.version = version
    }

    /// Adds a loop's counters. Call before the loops start.
    public func attach(_ metrics: LoopMetrics, of loop: EventLoop) {
        loops.append((loop, metrics))
    }

    /// Names the wire formats of one transport, so connections are reported by transport.
    public func describe(transport name: String, formats: [WireFormat]) {
        transports.append((name, formats))
    }

    /// Gathers every loop's counters and calls `done` (on the last loop to answer) with the text.
    func scrape(_ done: @escaping @Sendable (String) -> Void) {
        let pending = Mutex<(left: Int, sum: LoopMetrics.Snapshot)>((loops.count, LoopMetrics.Snapshot()))
        for (loop, metrics) in loops {
            let confined = LoopBound(metrics)
            loop.execute { [self] _ in
                let snapshot = confined.value.snapshot
                let finished = pending.withLock { state -> LoopMetrics.Snapshot? in
                    state.sum = state.sum + snapshot
                    state.left -= 1
                    return state.left == 0 ? state.sum : nil
                }
                if let finished { done(render(finished)) }
            }
        }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    func render(_ loopTotals: LoopMetrics.Snapshot) -> String {
        var text = PrometheusText()
        text.gauge("wavelog_build_info", "The running build.", labels: [("version", version)], 1)
        for (name, formats) in transports {
            let open = formats.reduce(0) { $0 + counters.openConnections($1) }
            text.gauge("wavelog_connections", "Open subscriber connections (authenticated or not), by transport.", labels: [("transport", name)], Double(open))
        }
        let status = broker.reportStatus(includeTopicLists: false)
        text.gauge("wavelog_subscribed_sockets", "Authenticated subscriber connections.", Double(status.connectedSockets))
        text.gauge("wavelog_connected_clients", "Distinct users among them; anonymous sockets count once each.", Double(status.connectedClients))
        text.gauge("wavelog_registered_topics", "Live registered topics.", Double(status.registeredTopicCount))
        text.gauge("wavelog_active_topics", "Topics with a subscriber on this node.", Double(status.activeTopicCount))
        text.counter("wavelog_publishes_total", "Publishes accepted by the internal API of this node.", Double(loopTotals.publishes))
        text.counter("wavelog_deliveries_total", "Pushes queued to subscribers on this node.", Double(loopTotals.deliveries))
        text.counter("wavelog_slow_consumer_closes_total", "Subscribers closed because they could not keep up.", Double(counters.slowConsumersClosed))
        if let connected = status.clusterConnected {
            text.gauge("wavelog_cluster_connected", "1 while the Redis link is up.", connected ? 1 : 0)
        }
        if let unsent = status.clusterUnsent {
            text.counter("wavelog_cluster_unsent_total", "Publishes not fanned out through Redis while its link was down.", Double(unsent))
        }
        let process = ProcessFigures.read()
        text.counter("process_cpu_seconds_total", "User and system CPU time of the process.", process.cpuSeconds)
        text.gauge("process_resident_memory_bytes", "Resident memory of the process.", process.residentBytes)
        text.gauge("process_open_fds", "Open file descriptors of the process.", process.openDescriptors)
        return text.output
    }
}
