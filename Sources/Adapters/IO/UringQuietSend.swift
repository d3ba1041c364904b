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

    /// After the wait's reap: the quiet sends submitted before it are done, and the completion
    /// of each that fell short has been taken, unless the completion queue overflowed (then
    /// the kernel still owes some, and they wait for a later reap).
    func quietSendsReaped() {
        guard !quietSubmitted.isEmpty, !quietShortfallsLost, !io_uring_cq_has_overflow(&ring) else { return }
        quietReaped.append(contentsOf: quietSubmitted)
        quietSubmitted.removeAll(keepingCapacity: true)
    }

    /// Applies the shortfalls taken, then settles every reaped send without one as whole. Runs
    /// at the start of a turn, after the clock was read and before any handler.
    func settleQuietSends() {
        if !quietShortfalls.isEmpty {
            for completion in quietShortfalls {
                // The quiet lists hold the connection until its send is settled, and a send's
                // shortfall is applied no later than the turn that settles it.
                let connection = Unmanaged<Connection>.fromOpaque(Self.object(of: completion.userData)).takeUnretainedValue()
                quietSendsShort += 1
                connection.quietSendFellShort(completion.result)
            }
            quietShortfalls.removeAll(keepingCapacity: true)
        }
        if quietShortfallsLost { abandonQuietSendsInDoubt() }
        guard !quietReaped.isEmpty else { return }
        for send in quietReaped where send.connection.quietSendWentWhole(send.number) { quietSendsWhole += 1 }
        quietReaped.removeAll(keepingCapacity: true)
        if quietPrepared.isEmpty && quietSubmitted.isEmpty { quietSendFollowUp = false }
    }

    /// The kernel dropped completions: whether a submitted quiet send went whole can no longer
    /// be told, and taking a short one for whole would cut a hole in its stream. Those
    /// connections are closed, and this loop's sends wait in the kernel from now on.
    private func abandonQuietSendsInDoubt() {
        quietShortfallsLost = false
        sendsQuietly = false
        let doubtful = quietReaped + quietSubmitted
        quietReaped.removeAll()
        quietSubmitted.removeAll()
        for send in doubtful where send.connection.hasQuietSendInFlight(send.number) { send.connection.close() }
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
