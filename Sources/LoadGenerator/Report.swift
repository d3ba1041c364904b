// The figures of one run, printed as one JSON object for bench/run.py to tabulate.
struct Report {
    let options: LoadOptions
    var setupFailed = false
    var connections = 0
    var failedSetups = 0
    var setupSeconds = 0.0
    var cpuMicrosecondsPerConnection = 0.0
    var residentKiBPerConnection = 0.0
    var residentKiB = 0
    var drained = true
    var publishes = 0
    var requestsAnswered = 0
    var failures: [Int: Int] = [:]
    var deliveries = 0
    var lost = 0
    var closedByServer: [UInt16: Int] = [:]
    var unexpectedFrames = 0
    var wireBytesPerDelivery = 0.0
    var compressedDeliveries = 0
    var seconds = 0.0
    var deliveriesPerSecond = 0.0
    var requestsPerSecond = 0.0
    var cpuMicrosecondsPerDelivery = 0.0
    var cpuMicrosecondsPerRequest = 0.0
    var serverCPUSeconds = 0.0
    var latencyP50: UInt64 = 0
    var latencyP99: UInt64 = 0
    var latencyMax: UInt64 = 0
    var requestP50: UInt64 = 0
    var requestP99: UInt64 = 0
    var requestMax: UInt64 = 0
    /// Of all CPUs' time during the measured phase, the percentage the hypervisor took.
    var stealPercent = 0.0
    /// Of the server's CPU time during the measured phase, the percentage spent in the kernel.
    var kernelPercent = 0.0

    var json: String {
        let failed = failures.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        let closes = closedByServer.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        let fields: [(String, String)] = [
            ("mode", "\"\(options.mode.rawValue)\""), ("dialect", "\"\(options.dialect.rawValue)\""),
            ("topics", "\(options.topics)"), ("subscribers_per_topic", "\(options.subscribersPerTopic)"),
            ("setup_failed", "\(setupFailed)"), ("connections", "\(connections)"), ("failed_setups", "\(failedSetups)"),
            ("setup_seconds", format(setupSeconds)), ("cpu_us_per_connection", format(cpuMicrosecondsPerConnection)),
            ("rss_kib_per_connection", format(residentKiBPerConnection)), ("rss_kib", "\(residentKiB)"),
            ("drained", "\(drained)"), ("publishes", "\(publishes)"), ("requests", "\(requestsAnswered)"),
            ("requests_failed", "\(failures.values.reduce(0, +))"), ("failed_by_status", "{\(failed)}"), ("deliveries", "\(deliveries)"), ("lost", "\(lost)"),
            ("closed_by_server", "{\(closes)}"), ("unexpected_frames", "\(unexpectedFrames)"),
            ("wire_bytes_per_delivery", format(wireBytesPerDelivery)), ("compressed_deliveries", "\(compressedDeliveries)"),
            ("seconds", format(seconds)), ("deliveries_per_s", format(deliveriesPerSecond)),
            ("requests_per_s", format(requestsPerSecond)), ("cpu_us_per_delivery", format(cpuMicrosecondsPerDelivery)),
            ("cpu_us_per_request", format(cpuMicrosecondsPerRequest)), ("server_cpu_s", format(serverCPUSeconds)),
            ("latency_p50_us", "\(latencyP50)"), ("latency_p99_us", "\(latencyP99)"), ("latency_max_us", "\(latencyMax)"),
            ("request_p50_us", "\(requestP50)"), ("request_p99_us", "\(requestP99)"), ("request_max_us", "\(requestMax)"),
            ("steal_percent", format(stealPercent)), ("kernel_percent", format(kernelPercent)),
        ]
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    private func format(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let scaled = (value * 1000).rounded() / 1000
        return "\(scaled)"
    }
}
