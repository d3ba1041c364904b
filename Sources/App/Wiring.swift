// The composition root: the only place that names concrete adapters.
import Adapters
import Application
import Domain
import Glibc
import Logging

enum Wiring {
    /// How often expired topics are freed (lookups ignore them at once).
    static let reapInterval: Duration = .seconds(10)
    /// Connections the internal port takes at once: a backend's pool, a scraper, a probe.
    static let internalConnectionLimit = 4096

    /// Builds the node from `loaded` and runs it until SIGTERM/SIGINT; returns the exit status.
    static func run(_ loaded: LoadedConfig, version: String) -> Int32 {
        let config = loaded.config
        let logFormat: LineLogHandler.Format = config.logFormat == .json ? .json : .logfmt
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, level: config.logLevel, format: logFormat)
        }
        var logger = Logger(label: "wavelog-worker")
        logger.logLevel = config.logLevel
        for warning in loaded.warnings { logger.warning("configuration warning", metadata: ["warning": "\(warning)"]) }
        ProcessSignals.prepare()
        OpenSSLDigest.initialize()

        // MARK: Ports and use cases
        let clock = SystemClock()
        let statistics = InMemorySubscriptionStatistics()
        let formats = WireFormats()
        let fanOut = LoopFanOut(formats: formats, history: config.history, rules: config.topicRules, clock: clock)
        let group: EventLoopGroup
        let poller: PollerKind
        do {
            let (kind, fallback) = try config.ioBackend.resolve()
            if let fallback {
                logger.notice("io_uring unavailable, using epoll", metadata: ["reason": "\(fallback)"])
            }
            poller = kind
        } catch {
            printFatal("wavelog-worker: io_backend: \(config.ioBackend.rawValue): \(error)")
            return 1
        }
        do {
            group = try EventLoopGroup(count: config.threads, poller: poller)
        } catch {
            printFatal("wavelog-worker: \(error)")
            return 1
        }
        let bus: any ClusterBus
        let messenger: any NodeMessenger
        let topics: any TopicStore
        var roster: (any ClusterRoster)?
        var services: [any LifecycleService] = []
        // A node alone sees every message: its history knows a topic without messages stands at 0.
        var completeHistory: (epoch: UInt64, rules: HistoryRules)?
        // One identity per process: the roster's id is the origin_id of this node's envelopes.
        let nodeID = Hex.encodeLowercase(OpenSSLDigest.randomBytes(count: 8) ?? [])
        let hostName = HostName.current()
        let identity = NodeIdentity(id: nodeID, name: hostName.isEmpty ? nodeID : hostName, version: version, startedAt: clock.wallTime)
        if var redis = config.redis {
            if redis.usesTLS {
                if config.redisTLS.insecureSkipVerify {
                    logger.warning("redis_tls_insecure_skip_verify is on: the Redis server's certificate is not checked, so anyone on the path can read and change what the cluster sends; for tests only")
                }
                do {
                    redis.tls = try TLSClient(config.redisTLS)
                } catch {
                    printFatal("wavelog-worker: config: redis_tls_ca_file: \(error)")
                    return 1
                }
            }
            // Redis lives on the last loop: loop 0 also reaps topics, so spread the background work.
            let redisLoop = group.loops[group.loops.count - 1]
            var liveness = RedisConnection.Liveness()
            liveness.timeout = config.redisTimeout
            var queue = RedisClusterBus.QueueLimits()
            queue.bytes = config.redisQueueBytes
            queue.commands = config.redisQueueCommands
            let store = RedisTopicStore(
                endpoint: redis, prefix: config.redisPrefix, originID: identity.id, clock: clock, loop: redisLoop, logger: logger,
                liveness: liveness)
            topics = store
            let redisBus = RedisClusterBus(
                endpoint: redis, prefix: config.redisPrefix, originID: identity.id, sink: fanOut, loop: redisLoop, logger: logger,
                liveness: liveness, queueLimits: queue, history: config.history)
            bus = redisBus
            messenger = redisBus
            let nodeRoster = RedisRoster(
                endpoint: redis, prefix: config.redisPrefix, describe: DescribeNode(identity: identity, statistics: statistics, clock: clock),
                clock: clock, loop: redisLoop, logger: logger, liveness: liveness)
            roster = nodeRoster
            // Stopped in reverse: the roster entry goes first, while the loops still run.
            services = [store, bus, nodeRoster]
        } else {
            topics = InMemoryTopicStore()
            let memoryBus = InMemoryClusterBus(sink: fanOut, history: config.history)
            completeHistory = (memoryBus.epoch, config.history)
            bus = memoryBus
            messenger = memoryBus
            services = [bus]
        }
        let broker = Broker(
            ports: Broker.Ports(
                topics: topics, bus: bus, authenticator: OpenSSLHMAC(secret: config.workerSecret),
                claimsDecoder: JSONClaimsDecoder(), statistics: statistics, clock: clock, roster: roster),
            topicTTL: config.topicTTL, version: version, identity: identity, logger: logger)
        broker.registerWorkerTopics()

        // MARK: Loops, transports, listeners
        var node = RunningNode()
        var tlsServers: [TLSServer] = []
        do {
            let budget = ConnectionBudget(limit: config.maxConnections)
            // The backend's own connections do not compete with browsers for `max_connections`.
            let internalBudget = ConnectionBudget(limit: internalConnectionLimit)
            let refusals = RefusalLog(logger: logger)
            let queueLimits = (frames: config.sendQueueFrames, bytes: config.sendQueueBytes)
            guard let wsAddress = SocketAddress(host: config.wsBind, port: config.wsPort),
                let internalRequested = SocketAddress(host: config.internalBind, port: config.internalPort)
            else {
                logger.critical("bind address is not an IP address")
                return 1
            }
            let internalReservation = try AddressReservation(internalRequested, key: "internal_bind/internal_port")
            let publicReservation = try AddressReservation(wsAddress, key: "ws_bind/ws_port")
            defer {
                internalReservation.release()
                publicReservation.release()
            }
            let publicTLS = try config.publicTLS.map { settings throws(StartupError) in try tlsServer(settings, prefix: "") }
            let internalTLS = try config.internalTLS.map { settings throws(StartupError) in try tlsServer(settings, prefix: "internal_") }
            tlsServers = [publicTLS, internalTLS].compactMap { $0 }
            for server in tlsServers where !server.watchFiles(logging: logger) {
                logger.notice("tls certificate files not watched; SIGHUP reloads them", metadata: ["key": "\(server.key)"])
            }
            var internalAddress = internalReservation.address
            var publicAddress = publicReservation.address
            let webhooks = makeWebhooks(config, clock: clock, logger: logger)
            // Stopped after the transports' departure: what the node queued on the way out goes.
            if let webhooks { services.append(webhooks) }
            let pusherCluster = PusherTransport.Cluster(
                nodeID: identity.id, messenger: messenger, clock: clock, webhooks: webhooks, clustered: config.redis != nil)
            let transports = browserTransports(config, formats: formats, pusherCluster: pusherCluster)
                .filter { config.transports.contains($0.name) }.map(\.transport)
            // After the bus: stopped before it, so what they say on the way out still travels.
            services += transports.flatMap(\.services)
            var occupancy: (any TopicOccupancy)?
            if !config.topicWebhooks.isEmpty {
                if let pusher = transports.lazy.compactMap({ $0 as? PusherTransport }).first {
                    occupancy = pusher.topicOccupancy
                } else {
                    let (standalone, departure) = PusherTransport.topicOccupancy(cluster: pusherCluster, on: group.loops[0])
                    occupancy = standalone
                    services.append(departure)
                }
            }
            var policy = Admission.Policy()
            policy.allowedOrigins = Set(config.allowedOrigins)
            policy.trustedProxies = config.trustedProxies
            var perAddress = AddressLimiter.Settings()
            perAddress.maxConcurrent = config.maxConnectionsPerIP
            perAddress.ratePerSecond = config.handshakeRatePerIP
            perAddress.burst = Double(config.handshakeBurstPerIP)
            let admission = Admission(
                broker: broker, policy: policy, limits: ClientLimits(settings: perAddress), refusals: refusals, logger: logger)
            let counters = EngineCounters()
            let registry = MetricsRegistry(broker: broker, counters: counters, version: version)
            registry.tlsPorts = !tlsServers.isEmpty
            for transport in transports { registry.describe(transport) }
            if let webhooks { registry.describe { webhooks.samples } }
            if !config.topicRules.isEmpty {
                registry.describe {
                    [TransportGauge(
                        name: "wavelog_publishes_coalesced_total", help: "Publishes of coalescing topics that a later one of the same window replaced.",
                        labels: [], value: Double(fanOut.coalescedPublishes), isCounter: true),
                     TransportGauge(
                        name: "wavelog_coalescing_topics", help: "Topics in a coalescing burst now (one timer each until the burst ends).",
                        labels: [], value: Double(fanOut.openCoalescingWindows))]
                }
            }
            for loop in group.loops {
                registry.attach(loop)
                let shard = SubscriberShard(loop: loop, broker: broker, counters: counters, logger: logger, historyLimits: config.historyLimits, completeHistory: completeHistory)
                shard.occupancy = occupancy
                shard.start()
                fanOut.attach(shard)
                let router = Router()
                let context = TransportContext(loop: loop, broker: broker, admission: admission, shard: shard, logger: logger)
                let drainables = transports.flatMap { $0.install(in: context, router: router) }
                ProbeRoutes(broker: broker, shard: shard).install(on: router)
                ClientScriptRoute().install(on: router)
                let publicTransport = HTTPTransport(responder: router)
                let internalRoutes = Router()
                for transport in transports { transport.installInternal(in: context, router: internalRoutes) }
                let internalTransport = HTTPTransport(responder: InternalAPIResponder(
                    broker: broker, secret: config.workerSecret, registry: registry, routes: internalRoutes, rules: config.topicRules,
                    shard: shard, logger: logger))
                let internalListener = try Listener(
                    address: internalAddress, key: "internal_bind/internal_port", loop: loop, transport: internalTransport,
                    budget: internalBudget, queueLimits: queueLimits, refusals: refusals, tls: internalTLS, logger: logger)
                let publicListener = try Listener(
                    address: publicAddress, key: "ws_bind/ws_port", loop: loop, transport: publicTransport,
                    budget: budget, queueLimits: queueLimits, refusals: refusals, tls: publicTLS, logger: logger)
                // Port 0 picks a free port once; the other loops share it through SO_REUSEPORT.
                internalAddress = internalListener.address
                publicAddress = publicListener.address
                node.add(LoopParts(
                    loop: loop, publicListeners: [publicListener], internalListeners: [internalListener], shard: shard,
                    publicDrainables: [publicTransport] + drainables, internalDrainables: [internalTransport]))
            }
            node.budget = budget
            var startup: Logger.Metadata = [
                "ws": "\(publicAddress)", "internal": "\(internalAddress)", "threads": "\(config.threads)", "io_backend": "\(poller.rawValue)",
                "version": "\(version)", "node_id": "\(identity.id)", "node_name": "\(identity.name)",
            ]
            // TLS runs in OpenSSL over memory BIOs on every backend; kernel TLS is not used
            // (docs/adr/0021).
            if publicTLS != nil { startup["tls"] = "openssl-userspace" }
            if internalTLS != nil { startup["internal_tls"] = "openssl-userspace" }
            for (key, value) in config.summaryFields { startup["config.\(key)"] = "\(value)" }
            logger.info("listening", metadata: startup)
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error)"])
            printFatal("wavelog-worker: \(error)")
            return 1
        }

        group.loops[0].schedule(after: reapInterval) { loop in reap(broker, loop) }
        do {
            for service in services { try service.start() }
        } catch {
            printFatal("wavelog-worker: \(error)")
            return 1
        }
        group.start()

        let signal = ProcessSignals.waitForTermination {
            // A reload request: certificates renewed on disk (certbot's deploy hook sends it).
            for server in tlsServers { server.reload(logging: logger) }
        }
        logger.info("shutting down", metadata: [
            "signal": "\(signal)", "connections": "\(node.budget?.current ?? 0)", "drain_period": "\(GoDuration.formatExact(config.drainPeriod))",
        ])
        node.drain(period: config.drainPeriod, deadline: config.drainTimeout, logger: logger)
        for service in services.reversed() { service.shutdown() }
        group.stopAndJoin()
        RedisRelayFiles.remove()
        logger.info("stopped")
        return 0
    }

    /// A start-up failure that is a configuration key's fault, printed as `key: reason`.
    struct StartupError: Error, CustomStringConvertible {
        let description: String
    }

    /// The TLS port's certificate, loaded now: a port that cannot serve it does not start, and
    /// the error names the key at fault (`prefix` is "internal_" for the internal port).
    static func tlsServer(_ settings: TLSSettings, prefix: String) throws(StartupError) -> TLSServer {
        do {
            return try TLSServer(settings, key: "\(prefix)tls_cert_file")
        } catch {
            let key: String
            switch error.culprit {
            case .certificate, .openssl: key = "\(prefix)tls_cert_file"
            case .key: key = "\(prefix)tls_key_file"
            case .ciphers: key = "tls_ciphers"
            }
            throw StartupError(description: "\(key): \(error)")
        }
    }

    /// The webhook endpoints, or nil when none is configured.
    static func makeWebhooks(_ config: WorkerConfig, clock: any Clock, logger: Logger) -> Webhooks? {
        guard !config.topicWebhooks.isEmpty || config.pusherApps.contains(where: { !$0.webhooks.isEmpty }) else { return nil }
        var settings = Webhooks.Settings()
        settings.delay = config.webhookDelay
        settings.caFile = config.webhookCAFile
        settings.queue.batchWindow = config.webhookBatchWindow
        settings.queue.batchSize = config.webhookBatchSize
        settings.queue.maxBatches = config.webhookQueueBatches
        return Webhooks(
            apps: config.pusherApps, topicTargets: config.topicWebhooks, workerSecret: config.workerSecret, settings: settings, clock: clock,
            logger: logger)
    }

    /// Every browser transport this build has; `transports` in the configuration picks among them.
    /// A new transport is one more line here.
    static func browserTransports(
        _ config: WorkerConfig, formats: WireFormats, pusherCluster: PusherTransport.Cluster
    ) -> [(name: String, transport: any BrowserTransport)] {
        var webSocket = WebSocketTransport.Settings()
        webSocket.authTimeout = config.authTimeout
        webSocket.webSocket.pingInterval = config.pingInterval
        webSocket.webSocket.idleTimeout = config.idleTimeout
        if config.webSocketCompression {
            var compression = WebSocketTransport.Compression()
            compression.threshold = config.webSocketCompressionThreshold
            compression.level = config.webSocketCompressionLevel
            webSocket.compression = compression
        } else {
            webSocket.compression = nil
        }
        var sse = SSETransport.Settings()
        sse.heartbeatInterval = config.sseHeartbeat
        sse.retry = config.sseRetry
        var transports: [(name: String, transport: any BrowserTransport)] = [
            (WebSocketTransport.name, WebSocketTransport(settings: webSocket, formats: formats)),
            (SSETransport.name, SSETransport(settings: sse, formats: formats)),
        ]
        if !config.pusherApps.isEmpty {
            var pusher = PusherTransport.Settings()
            pusher.apps = config.pusherApps
            pusher.activityTimeout = config.pusherActivityTimeout
            pusher.cacheTTL = config.pusherCacheTTL
            pusher.webSocket.pingInterval = config.pingInterval
            pusher.webSocket.idleTimeout = config.idleTimeout
            transports.append((PusherTransport.name, PusherTransport(settings: pusher, formats: formats, cluster: pusherCluster)))
        }
        return transports
    }

    private static func reap(_ broker: Broker, _ loop: EventLoop) {
        broker.reapExpiredTopics()
        loop.schedule(after: reapInterval) { loop in reap(broker, loop) }
    }

    static func printFatal(_ line: String) {
        Main.printError(line)
    }
}

extension Wiring {
    /// Echo mode for conformance runs (Autobahn): one loop, every message echoed, no broker.
    static func runEcho(port: Int) -> Int32 {
        ProcessSignals.prepare()
        let logger = Logger(label: "wavelog-worker-echo")
        do {
            // No configuration file in this mode: the one setting it takes is the environment's.
            let requested = getenv("WAVELOG_IO_BACKEND").map { String(cString: $0).lowercased() } ?? IOBackend.auto.rawValue
            guard let backend = IOBackend(rawValue: requested) else {
                printFatal("wavelog-worker: WAVELOG_IO_BACKEND: expected one of \(IOBackend.allCases.map(\.rawValue).joined(separator: ", "))")
                return 1
            }
            let poller = try backend.resolve().kind
            // The conformance run over TLS names a certificate and key the way a node's
            // environment does.
            var tls: TLSServer?
            if let certificate = getenv("WAVELOG_TLS_CERT_FILE").map({ String(cString: $0) }),
                let key = getenv("WAVELOG_TLS_KEY_FILE").map({ String(cString: $0) }) {
                tls = try tlsServer(TLSSettings(certificateFile: certificate, keyFile: key), prefix: "")
            }
            let group = try EventLoopGroup(count: 1, poller: poller)
            let transport = HTTPTransport(responder: EchoResponder())
            let listener = try Listener(
                address: SocketAddress(host: "127.0.0.1", port: port)!, key: "echo", loop: group.loops[0], transport: transport,
                budget: ConnectionBudget(limit: 1000), queueLimits: (frames: 1 << 20, bytes: 1 << 30), tls: tls, logger: logger)
            // Unbuffered: the conformance script reads this line through a pipe.
            let line = Array("echo listening on \(listener.address) tls=\(tls == nil ? "off" : "on") io_backend=\(poller.rawValue)\n".utf8)
            _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            group.start()
            _ = ProcessSignals.waitForTermination()
            group.stopAndJoin()
            return 0
        } catch {
            printFatal("wavelog-worker: \(error)")
            return 1
        }
    }
}
