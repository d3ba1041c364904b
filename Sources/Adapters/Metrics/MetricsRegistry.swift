// Every loop's counters, and how a scrape gathers them without a lock on the counting side.
public import Application
internal import Domain
internal import Synchronization

/// The node's metrics: each loop's `LoopMetrics`, the engine's counters, the application's
/// status. Built before the loops start; a scrape asks every loop for its counters through
/// `execute` and answers when the last one has replied.
public final class MetricsRegistry: @unchecked Sendable {
    // Written only before the loops start (App wiring); read-only afterwards.
    private var loops: [EventLoop] = []
    private var transports: [any BrowserTransport] = []
    private var sources: [@Sendable () -> [TransportGauge]] = []
    /// A port serves TLS: the handshake counters are shown. Set before the loops start.
    public var tlsPorts = false
    let broker: Broker
    let counters: EngineCounters
    let version: String

    public init(broker: Broker, counters: EngineCounters, version: String) {
        self.broker = broker
        self.counters = counters
        self.version = version
    }

    /// Adds a loop's counters. Call before the loops start.
    public func attach(_ loop: EventLoop) {
        loops.append(loop)
    }

    /// Adds a transport: its connections are reported by its name, with its own figures.
    public func describe(_ transport: any BrowserTransport) {
        transports.append(transport)
    }

    /// Adds samples gathered at each scrape (the webhooks' counters). Call before the loops start.
    public func describe(samples: @escaping @Sendable () -> [TransportGauge]) {
        sources.append(samples)
    }

    /// The transports' extension members of `/internal/status`.
    var statusMembers: [String] { transports.flatMap(\.statusMembers) }

    /// Gathers every loop's counters and calls `done` (on the last loop to answer) with the text.
    func scrape(_ done: @escaping @Sendable (String) -> Void) {
        let pending = Locked<(left: Int, sum: LoopMetrics.Snapshot)>((loops.count, LoopMetrics.Snapshot()))
        for loop in loops {
            loop.execute { [self] loop in
                let snapshot = loop.metrics.snapshot
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
        for transport in transports {
            let open = transport.wireFormats.reduce(0) { $0 + counters.openConnections($1) }
            text.gauge(
                "wavelog_connections", "Open subscriber connections (authenticated or not), by transport.",
                labels: [("transport", type(of: transport).name)], Double(open))
        }
        for gauge in transports.flatMap(\.gauges) + sources.flatMap({ $0() }) {
            if gauge.isCounter {
                text.counter(gauge.name, gauge.help, labels: gauge.labels, gauge.value)
            } else {
                text.gauge(gauge.name, gauge.help, labels: gauge.labels, gauge.value)
            }
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
        if let reconnects = status.clusterReconnects {
            text.counter("wavelog_cluster_reconnects_total", "Times the Redis link came back after it was lost.", Double(reconnects))
        }
        text.counter("wavelog_bytes_received_total", "Bytes read from every socket of the node, both ports.", Double(loopTotals.bytesReceived))
        text.counter("wavelog_bytes_sent_total", "Bytes written to every socket of the node, both ports.", Double(loopTotals.bytesSent))
        for (code, count) in loopTotals.closes.sorted(by: { $0.key < $1.key }) {
            text.counter("wavelog_closes_total", "WebSocket close frames the node sent, by close code.", labels: [("code", String(code))], Double(count))
        }
        for (reason, count) in loopTotals.authFailures.sorted(by: { $0.key < $1.key }) {
            text.counter("wavelog_auth_failures_total", "Subscribers refused at authentication, by reason.", labels: [("reason", reason)], Double(count))
        }
        for (reason, count) in loopTotals.refusals.sorted(by: { $0.key < $1.key }) {
            text.counter("wavelog_refused_total", "Connections and handshakes refused before a subscription, by reason.", labels: [("reason", reason)], Double(count))
        }
        text.counter(
            "wavelog_resumes_total", "Subscribers that named a position, by outcome (recovered, or resync: told to refetch).",
            labels: [("outcome", "recovered")], Double(loopTotals.resumesRecovered))
        text.counter(
            "wavelog_resumes_total", "Subscribers that named a position, by outcome (recovered, or resync: told to refetch).",
            labels: [("outcome", "resync")], Double(loopTotals.resumesResync))
        text.counter("wavelog_messages_replayed_total", "Missed messages written to resuming subscribers.", Double(loopTotals.messagesReplayed))
        for (outcome, count) in [("ok", loopTotals.tokenRefreshes), ("refused", loopTotals.tokenRefreshesRefused)] {
            text.counter(
                "wavelog_token_refreshes_total", "In-band token refreshes of subscribed WebSockets, by outcome.",
                labels: [("outcome", outcome)], Double(count))
        }
        text.counter(
            "wavelog_pushes_replaced_total", "Unsent pushes of latest-value topics replaced by a newer one (a slow reader kept, not closed).",
            Double(loopTotals.pushesReplaced))
        if tlsPorts {
            text.counter("wavelog_tls_handshakes_total", "TLS handshakes that finished, both ports.", Double(loopTotals.tlsHandshakes))
            // Every reason is shown from the start, so a rate() over it has a zero to begin from.
            for reason in TLSSession.FailureReason.allCases {
                text.counter(
                    "wavelog_tls_handshake_failures_total", "TLS handshakes that failed or never finished, by reason.",
                    labels: [("reason", reason.rawValue)], Double(loopTotals.tlsHandshakeFailures[reason.rawValue] ?? 0))
            }
        }
        let process = ProcessFigures.read()
        text.counter("process_cpu_seconds_total", "User and system CPU time of the process.", process.cpuSeconds)
        text.gauge("process_resident_memory_bytes", "Resident memory of the process.", process.residentBytes)
        text.gauge("process_open_fds", "Open file descriptors of the process.", process.openDescriptors)
        return text.output
    }
}
