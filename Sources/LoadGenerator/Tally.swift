// What all clients of a run add up to; read once at the end.
final class Tally {
    init() {}

    var ready = 0
    var failedSetups = 0
    var deliveries = 0
    /// Deliveries that never came to a subscriber that stayed open.
    var lost = 0
    var closedByServer: [UInt16: Int] = [:]
    var unexpectedFrames = 0
    /// Bytes of the push frames (or SSE events) subscribers received, as they came off the wire.
    var pushBytes = 0
    /// Pushes that arrived compressed (RSV1).
    var compressedDeliveries = 0
    var latency = LatencyHistogram()
}

/// Microsecond latencies: exact below 1,024 us, then 64 buckets per power of two (1.6 % error).
struct LatencyHistogram {
    private var counts = [Int](repeating: 0, count: 1024 + 64 * 40)
    private(set) var count = 0
    private(set) var maximum: UInt64 = 0

    mutating func record(microseconds value: UInt64) {
        counts[Self.bucket(value)] += 1
        count += 1
        maximum = max(maximum, value)
    }

    func percentile(_ fraction: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Int((Double(count) * fraction).rounded(.up))
        var seen = 0
        for (bucket, bucketCount) in counts.enumerated() {
            seen += bucketCount
            if seen >= rank { return min(Self.upperBound(bucket), maximum) }
        }
        return maximum
    }

    static func bucket(_ value: UInt64) -> Int {
        if value < 1024 { return Int(value) }
        let power = 63 - value.leadingZeroBitCount  // >= 10
        let fraction = Int((value >> UInt64(power - 6)) & 63)
        return min(1024 + (power - 10) * 64 + fraction, 1024 + 64 * 40 - 1)
    }

    static func upperBound(_ bucket: Int) -> UInt64 {
        if bucket < 1024 { return UInt64(bucket) }
        let power = (bucket - 1024) / 64 + 10
        let fraction = UInt64((bucket - 1024) % 64)
        return ((64 + fraction + 1) << UInt64(power - 6)) - 1
    }
}
