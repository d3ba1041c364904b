// The commands a Redis connection awaits replies to: what its liveness check and its bound read.
internal import Domain

/// The commands a connection awaits replies to, as a queue of send times and sizes.
struct InFlightCommands {
    private var sentAt: [MonotonicTime] = []
    private var sizes: [Int] = []
    private var head = 0
    private(set) var bytes = 0

    var count: Int { sentAt.count - head }
    var oldest: MonotonicTime? { head < sentAt.count ? sentAt[head] : nil }

    mutating func sent(bytes size: Int, at time: MonotonicTime) {
        sentAt.append(time)
        sizes.append(size)
        bytes += size
    }

    mutating func answered() {
        guard head < sentAt.count else { return }
        bytes -= sizes[head]
        head += 1
        if head == sentAt.count {
            sentAt.removeAll(keepingCapacity: true)
            sizes.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > sentAt.count {
            sentAt.removeFirst(head)
            sizes.removeFirst(head)
            head = 0
        }
    }
}
