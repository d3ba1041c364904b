// Sends that report only what fell short: a send the kernel finishes while it is submitted posts
// no completion, so the `io_uring_enter` that submits a turn's answers can also sleep until the
// next request instead of returning at once with their completions (docs/adr/0014 "Quiet sends").
internal import Glibc
internal import CUring

extension UringPoller {
    /// True when this kernel finishes a non-blocking gathered send while it is submitted and
    /// posts a completion only when the send fell short (what it sent, or -EAGAIN) or failed.
    /// Measured once per process on a socket pair of its own rather than read from a version
    /// number: what a short non-blocking send reports changed between kernels, and a completion
    /// we never see for a send the kernel still holds would free frames under it.
    static let quietSendsWork: Bool = probeQuietSends()

    /// The flags that make a send quiet: it never waits for room (MSG_DONTWAIT, so the kernel
    /// is done with its frames once it is submitted), anything short of all of it is a failure
    /// that posts a completion (MSG_WAITALL), and success posts none.
    static let quietSendFlags = UInt32(MSG_NOSIGNAL | MSG_DONTWAIT | MSG_WAITALL)

    private static func probeQuietSends() -> Bool {
        // Freed after the ring is gone: a kernel that kept a send waiting would still read it.
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { payload.deallocate() }
        payload.initializeMemory(as: UInt8.self, repeating: 1)
        var ring = io_uring()
        var parameters = io_uring_params()
        parameters.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
        guard io_uring_queue_init_params(8, &ring, &parameters) == 0 else { return false }
        defer { io_uring_queue_exit(&ring) }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else { return false }
        defer {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
        }
        var size: Int32 = 4096
        _ = setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        // One byte fits: no completion. Far more than fits: what went, at once. The socket is
        // full then: -EAGAIN, at once, not a send left waiting for room.
        guard quietSend(&ring, pair[0], UnsafeRawBufferPointer(rebasing: payload[0..<1])) == .some(nil) else { return false }
        guard case .some(.some(let sent)) = quietSend(&ring, pair[0], UnsafeRawBufferPointer(payload)),
              sent > 0, Int(sent) < payload.count else { return false }
        for _ in 0..<64 {
            guard case .some(.some(let result)) = quietSend(&ring, pair[0], UnsafeRawBufferPointer(payload)) else { return false }
            if result == -EAGAIN { return true }
            guard result > 0, Int(result) < payload.count else { return false }
        }
        return false
    }

    /// Submits one quiet send and reads what is in the completion queue right after: nil when
    /// the submission failed, `.some(nil)` when no completion was posted.
    private static func quietSend(_ ring: inout io_uring, _ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32?? {
        guard let entry = io_uring_get_sqe(&ring) else { return nil }
        var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
        return withUnsafeMutablePointer(to: &vector) { vector in
            var header = msghdr()
            header.msg_iov = vector
            header.msg_iovlen = 1
            return withUnsafeMutablePointer(to: &header) { header in
                io_uring_prep_sendmsg(entry, descriptor, header, quietSendFlags)
                curing_skip_success(entry)
                guard io_uring_submit(&ring) == 1 else { return nil }
                guard let completion = curing_peek(&ring) else { return .some(nil) }
                let result = completion.pointee.res
                io_uring_cqe_seen(&ring, completion)
                return .some(result)
            }
        }
    }
}

/// A quiet send not known to have gone whole yet; `number` tells it from a later one of the
/// same connection.
struct QuietSend {
    let connection: Connection
    let number: UInt32
}

/// Where each quiet send is: prepared in the submission queue; submitted, so the kernel is done
/// with it and a shortfall's completion is in the completion queue; reaped, so any such
/// completion has been taken and, without one, it went whole. Each entry holds its connection,
/// as an operation in the kernel does, until it is settled.
struct QuietSendLedger {
    /// Sends go quietly on this loop; false once the kernel lost completions (or never could).
    var enabled: Bool
    var prepared: [QuietSend] = []
    var submitted: [QuietSend] = []
    var reaped: [QuietSend] = []
    /// The completions of quiet sends that fell short, taken and not yet applied.
    var shortfalls: [SocketCompletion] = []
    /// The kernel dropped completions (-EBADR): a shortfall may be among them.
    var shortfallsLost = false
    /// Set when a connection with a quiet send not yet known to have gone whole has more to do
    /// (frames behind it, a close waiting for it): the next wait then does not sleep, so the
    /// send is settled and the rest goes out in the next turn rather than at the next wake-up.
    var followUp = false
    /// Quiet sends that went whole, and that fell short (then a waiting send took the rest).
    var wentWhole = 0
    var fellShort = 0

    init(enabled: Bool) { self.enabled = enabled }

    /// The next wait must not sleep: a shortfall waits to be applied, or a send to be settled.
    var keepsLoopAwake: Bool { !shortfalls.isEmpty || (followUp && !(prepared.isEmpty && submitted.isEmpty)) }

    /// The kernel took every prepared entry.
    mutating func batchSubmitted() {
        guard !prepared.isEmpty else { return }
        submitted.append(contentsOf: prepared)
        prepared.removeAll(keepingCapacity: true)
    }

    /// After the wait's reap: the sends submitted before it are done, and the completion of each
    /// that fell short has been taken, unless the completion queue overflowed (then the kernel
    /// still owes some, and they wait for a later reap).
    mutating func reaped(completionsOverflowed: Bool) {
        guard !submitted.isEmpty, !shortfallsLost, !completionsOverflowed else { return }
        reaped.append(contentsOf: submitted)
        submitted.removeAll(keepingCapacity: true)
    }

    /// Whether a submitted send went whole can no longer be told: takes those sends, and ends
    /// quiet sends on this loop.
    mutating func abandonInDoubt() -> [QuietSend] {
        shortfallsLost = false
        enabled = false
        let doubtful = reaped + submitted
        reaped.removeAll()
        submitted.removeAll()
        return doubtful
    }

    /// Every reaped send is settled.
    mutating func settled() {
        reaped.removeAll(keepingCapacity: true)
        if prepared.isEmpty && submitted.isEmpty { followUp = false }
    }
}
