// One scenario run: register topics, connect subscribers, publish, drain, and measure the server
// around each phase so setup, idle memory and delivery costs are told apart.
import Glibc

final class LoadRun {
    private let options: LoadOptions
    private let reactor = Reactor()
    private let tally: Tally
    private let probe: ServerProbe
    private let topicNames: [String]
    private var subscribers: [Subscriber] = []
    private var publishers: [Publisher] = []
    private var published: [Int]
    private var publishing = false
    private var publishedTotal = 0
    private var nextTopic = 0
    private var expectedDeliveries = 0
    private var requestsAnswered = 0
    /// Refused requests by status; 0 is a connection that failed before an answer.
    private var failures: [Int: Int] = [:]
    /// From submitting a publish to its answer (for nchan too: it answers after queueing).
    private var roundTrips = LatencyHistogram()
    private let padding: String

    init(_ options: LoadOptions) {
        self.options = options
        tally = Tally()
        probe = ServerProbe(processes: options.serverProcesses)
        topicNames = (0..<options.topics).map { "bench.\($0)" }
        published = [Int](repeating: 0, count: options.topics)
        padding = options.radioPayload ? Self.radioStatus(bytes: options.payloadBytes - 40) : String(repeating: "x", count: max(0, options.payloadBytes - 40))
    }

    func run() -> Report {
        var report = Report(options: options)
        guard registerTopics() else {
            report.setupFailed = true
            return report
        }
        if options.mode != .publish {
            connectSubscribers(into: &report)
            if report.setupFailed || options.mode == .connect { return report }
        }
        publishAndDrain(into: &report)
        return report
    }

    // MARK: - Phases

    private func registerTopics() -> Bool {
        guard options.dialect == .worker else { return true }
        let registrar = Publisher(port: options.httpPort, keepAlive: true)
        var index = 0
        var ok = true
        registrar.onAnswer = { [self] publisher, status, reactor in
            if status != 200 { ok = false }
            index += 1
            if index < topicNames.count, ok {
                publisher.submit(options.dialect.registerRequest(topic: topicNames[index], secret: options.secret, port: options.httpPort)!, reactor)
            }
        }
        registrar.submit(options.dialect.registerRequest(topic: topicNames[0], secret: options.secret, port: options.httpPort)!, reactor)
        let finished = reactor.run(until: Clock.now() + 30_000_000_000) { index >= topicNames.count || !ok }
        registrar.disconnect(reactor)
        if !(finished && ok) { Diagnostics.say("registering topics failed") }
        return finished && ok
    }

    private func connectSubscribers(into report: inout Report) {
        let setup = SubscriberSetup(
            ports: [options.wsPort] + options.moreWsPorts,
            handshakes: topicNames.map {
                options.transport == .sse
                    ? options.dialect.streamRequest(topic: $0, port: options.wsPort, secret: options.secret)
                    : options.dialect.handshake(topic: $0, port: options.wsPort, deflate: options.deflate)
            },
            authFrames: options.dialect == .worker && options.transport == .websocket && options.authenticate
                ? topicNames.map { options.dialect.authFrame(topic: $0, secret: options.secret)! } : nil,
            eventStream: options.transport == .sse,
            pusherSecret: options.dialect == .pusher ? options.secret : nil,
            presence: options.presence,
            topicNames: topicNames,
            tls: options.tls ? ClientTLSContext() : nil)
        let total = options.topics * options.subscribersPerTopic
        subscribers.reserveCapacity(total)
        let residentBefore = probe.residentKiB()
        let cpuBefore = probe.cpuNanoseconds()
        let ticksBefore = ServerProbe.cpuTicks()
        let splitBefore = probe.userAndKernelTicks()
        let started = Clock.now()
        let finished = reactor.run(until: started + 120_000_000_000) {
            // Bounded in-flight set-ups keep the listen backlog from overflowing into SYN retries.
            while subscribers.count < total && subscribers.count - tally.ready - tally.failedSetups < options.setupConcurrency {
                let subscriber = Subscriber(
                    topic: subscribers.count % options.topics, port: setup.ports[subscribers.count % setup.ports.count], setup: setup, tally: tally)
                reactor.add(subscriber, writable: true)
                subscribers.append(subscriber)
            }
            return tally.ready + tally.failedSetups == total
        }
        let elapsed = Clock.now() - started
        let cpu = probe.cpuNanoseconds() - cpuBefore
        report.connections = tally.ready
        report.failedSetups = tally.failedSetups + (finished ? 0 : total - tally.ready - tally.failedSetups)
        report.setupFailed = report.failedSetups > 0
        report.setupSeconds = Double(elapsed) / 1e9
        report.cpuMicrosecondsPerConnection = tally.ready > 0 ? Double(cpu) / 1000 / Double(tally.ready) : 0
        report.residentKiBPerConnection = tally.ready > 0 ? Double(probe.residentKiB() - residentBefore) / Double(tally.ready) : 0
        report.residentKiB = probe.residentKiB()
        report.stealPercent = Self.stealPercent(since: ticksBefore)
        report.kernelPercent = kernelPercent(since: splitBefore)
    }

    private static func stealPercent(since before: (steal: UInt64, total: UInt64)) -> Double {
        let after = ServerProbe.cpuTicks()
        let total = after.total &- before.total
        return total > 0 ? Double(after.steal &- before.steal) * 100 / Double(total) : 0
    }

    /// 0 when a thread that had ticks ended during the phase: the sums went down, and the share
    /// of what is left would be wrong.
    private func kernelPercent(since before: (user: UInt64, kernel: UInt64)) -> Double {
        let after = probe.userAndKernelTicks()
        guard after.user >= before.user, after.kernel >= before.kernel else { return 0 }
        let user = Double(after.user - before.user), kernel = Double(after.kernel - before.kernel)
        return user + kernel > 0 ? kernel * 100 / (user + kernel) : 0
    }

    private func publishAndDrain(into report: inout Report) {
        publishers = (0..<options.publishers).map { _ in Publisher(port: options.httpPort, keepAlive: options.keepAlive) }
        for publisher in publishers {
            publisher.onAnswer = { [self] publisher, status, reactor in
                if (200..<300).contains(status) { requestsAnswered += 1 } else { failures[status, default: 0] += 1 }
                roundTrips.record(microseconds: (Clock.now() - publisher.submittedAt) / 1000)
                if options.rate == 0 { pump(reactor) }
            }
        }
        let cpuBefore = probe.cpuNanoseconds()
        let ticksBefore = ServerProbe.cpuTicks()
        let splitBefore = probe.userAndKernelTicks()
        let started = Clock.now()
        let stopAt = started + UInt64(options.seconds * 1e9)
        publishing = true
        reactor.pauseAfterBatchMicroseconds = options.readPauseMicroseconds
        if options.rate > 0 {
            tick(reactor, interval: UInt64(1e9 / options.rate))
        } else {
            pump(reactor)
        }
        reactor.run(until: stopAt) {
            // Pushes free the window too, not only answers: when every answer came back before
            // the pushes it allowed (threads: 2 delivers on another loop), nothing else would
            // publish again and the run would stall.
            if options.rate == 0 { pump(reactor) }
            return !publishing
        }
        publishing = false
        reactor.pauseAfterBatchMicroseconds = 0
        // Drain: everything published must arrive, or the run reports it lost.
        let drainUntil = Clock.now() + UInt64(options.drainSeconds * 1e9)
        let drained = reactor.run(until: drainUntil) {
            !publishers.contains(where: \.isBusy) && allCaughtUp()
        }
        let ended = Clock.now()
        let cpu = Double(probe.cpuNanoseconds() - cpuBefore)
        for subscriber in subscribers where subscriber.state == .subscribed {
            tally.lost += max(0, published[subscriber.topic] - subscriber.received)
        }
        let seconds = Double(ended - started) / 1e9
        report.drained = drained
        report.publishes = publishedTotal
        report.requestsAnswered = requestsAnswered
        report.failures = failures
        report.deliveries = tally.deliveries
        report.lost = tally.lost
        report.closedByServer = tally.closedByServer
        report.unexpectedFrames = tally.unexpectedFrames
        report.wireBytesPerDelivery = tally.deliveries > 0 ? Double(tally.pushBytes) / Double(tally.deliveries) : 0
        report.compressedDeliveries = tally.compressedDeliveries
        report.seconds = seconds
        report.deliveriesPerSecond = Double(tally.deliveries) / seconds
        report.requestsPerSecond = Double(requestsAnswered) / seconds
        report.cpuMicrosecondsPerDelivery = tally.deliveries > 0 ? cpu / 1000 / Double(tally.deliveries) : 0
        report.cpuMicrosecondsPerRequest = requestsAnswered > 0 ? cpu / 1000 / Double(requestsAnswered) : 0
        report.serverCPUSeconds = cpu / 1e9
        report.latencyP50 = tally.latency.percentile(0.50)
        report.latencyP99 = tally.latency.percentile(0.99)
        report.latencyMax = tally.latency.maximum
        report.requestP50 = roundTrips.percentile(0.50)
        report.requestP99 = roundTrips.percentile(0.99)
        report.requestMax = roundTrips.maximum
        report.residentKiB = probe.residentKiB()
        report.stealPercent = Self.stealPercent(since: ticksBefore)
        report.kernelPercent = kernelPercent(since: splitBefore)
    }

    // MARK: - Publishing

    /// As fast as possible, within the window so no subscriber queue grows without bound.
    private func pump(_ reactor: Reactor) {
        guard publishing else { return }
        for publisher in publishers where !publisher.isBusy {
            guard options.subscribersPerTopic == 0 || outstandingDeliveries() < options.window * options.subscribersPerTopic else { return }
            publish(on: publisher, reactor)
        }
    }

    /// Ticks on a fixed grid from the first, so the rate holds however late each one runs (a
    /// delay counted from each tick lost about 12 % of them); a tick missed by a stall is skipped,
    /// not made up in a burst.
    private func tick(_ reactor: Reactor, interval: UInt64, at scheduled: UInt64? = nil) {
        guard publishing else { return }
        if let free = publishers.first(where: { !$0.isBusy }) { publish(on: free, reactor) }
        let now = Clock.now()
        var next = (scheduled ?? now) + interval
        while next <= now { next += interval }
        reactor.schedule(at: next) { [self] reactor in tick(reactor, interval: interval, at: next) }
    }

    private func publish(on publisher: Publisher, _ reactor: Reactor) {
        if options.maxPublishes > 0 && publishedTotal >= options.maxPublishes {
            publishing = false
            return
        }
        let topic = nextTopic
        nextTopic = (nextTopic + 1) % options.topics
        published[topic] += 1
        publishedTotal += 1
        expectedDeliveries += options.subscribersPerTopic
        let filler = options.radioPayload ? padding : "\"\(padding)\""
        let payload = Array("{\"q\":\(published[topic]),\"t\":\(Clock.now()),\"pad\":\(filler)}".utf8)
        publisher.submit(options.dialect.publishRequest(topic: topicNames[topic], payload: payload, secret: options.secret, port: options.httpPort), reactor)
    }

    private func outstandingDeliveries() -> Int { expectedDeliveries - tally.deliveries }

    /// A JSON array of rig statuses about `bytes` long: what a radio-status push of Wavelog holds.
    static func radioStatus(bytes: Int) -> String {
        let modes = ["FT8", "CW", "SSB", "FT4", "RTTY"]
        var rigs: [String] = []
        var length = 2
        var index = 0
        while length < bytes {
            let rig = "{\"call\":\"DL\(index % 10)A\(String(UnicodeScalar(UInt8(65 + index % 26))))C\",\"freq\":\(14_074_000 + index * 1_370 % 350_000),"
                + "\"mode\":\"\(modes[index % modes.count])\",\"band\":\"\(["20m", "40m", "15m"][index % 3])\",\"power\":\(5 + index * 7 % 95),\"snr\":\(-20 + index * 3 % 30)}"
            rigs.append(rig)
            length += rig.utf8.count + 1
            index += 1
        }
        return "[" + rigs.joined(separator: ",") + "]"
    }

    /// Every subscriber still open has seen every publish to its topic (one closed with 1013
    /// owes nothing more; it is counted apart).
    private func allCaughtUp() -> Bool {
        subscribers.allSatisfy { $0.state != .subscribed || $0.received >= published[$0.topic] }
    }
}
