// Connections' receives and sends as io_uring operations: a multishot receive into the loop's
// provided buffers, gathered sends from the write queue (docs/adr/0014 "Who owns a buffer").
internal import Glibc
internal import CUring

extension UringPoller {
    /// True when connections receive and send through the ring, not through readiness.
    var completesSocketIO: Bool { buffers != nil }

    enum SocketOperation: UInt64 {
        case receive = 1, send = 2, accept = 3
        /// A quiet send's completion: it fell short or failed (UringQuietSend.swift).
        case quietSend = 4
    }

    /// Frames one send may gather: a backlog goes out over several completions.
    static let vectorsPerSend = 64

    /// The user data of `owner`'s `operation`: its address (16-byte aligned, so the low bits
    /// are free) with the operation and the socket-operation bit.
    static func userData(_ owner: AnyObject, _ operation: SocketOperation) -> UInt64 {
        UInt64(UInt(bitPattern: Unmanaged.passUnretained(owner).toOpaque())) | operation.rawValue | socketOperation
    }

    /// The object whose address `userData` carries.
    static func object(of userData: UInt64) -> UnsafeRawPointer {
        UnsafeRawPointer(bitPattern: UInt(truncatingIfNeeded: userData & ~(socketOperation | 0xF)))!
    }

    /// Arms a multishot receive. Each operation in the kernel holds a reference to its
    /// connection, dropped by its last completion, so a connection closed meanwhile (and its
    /// queued frames) lives until the kernel is done with it.
    func startReceiving(_ connection: Connection) {
        let entry = nextEntry()
        curing_prep_recv_multishot(entry, connection.descriptor, ProvidedBufferRing.group)
        io_uring_sqe_set_data64(entry, Self.userData(connection, .receive))
        _ = Unmanaged.passRetained(connection)
    }

    /// Submits one gathered send of what `gather` puts into the scratch (at most `capacity`
    /// ranges); returns the bytes asked for and the frames they cover. A quiet send never waits
    /// for room and posts a completion only when it fell short; one that is not waits in the
    /// kernel until the socket took all of it.
    func send(
        _ connection: Connection, quietNumber: UInt32?, gather: (UnsafeMutablePointer<IOVector>, Int) -> (entries: Int, frames: Int)
    ) -> (bytes: Int, frames: Int) {
        if sendHeadersUsed == Self.sendHeaderCapacity || sendVectorsUsed + Self.vectorsPerSend > Self.sendVectorCapacity {
            submitNow()
        }
        let entry = nextEntry()
        let vectors = sendVectors + sendVectorsUsed
        let (entries, frames) = gather(UnsafeMutableRawPointer(vectors).assumingMemoryBound(to: IOVector.self), Self.vectorsPerSend)
        var bytes = 0
        for index in 0..<entries { bytes += vectors[index].iov_len }
        let header = sendHeaders + sendHeadersUsed
        header.initialize(to: msghdr())
        header.pointee.msg_iov = vectors
        header.pointee.msg_iovlen = entries
        sendVectorsUsed += entries
        sendHeadersUsed += 1
        if let quietNumber {
            io_uring_prep_sendmsg(entry, connection.descriptor, header, Self.quietSendFlags)
            curing_skip_success(entry)
            io_uring_sqe_set_data64(entry, Self.userData(connection, .quietSend))
            quiet.prepared.append(QuietSend(connection: connection, number: quietNumber))
        } else {
            io_uring_prep_sendmsg(entry, connection.descriptor, header, UInt32(MSG_NOSIGNAL))
            io_uring_sqe_set_data64(entry, Self.userData(connection, .send))
            _ = Unmanaged.passRetained(connection)
        }
        return (bytes, frames)
    }

    /// Asks the kernel to end `owner`'s `operation`; its completion (ECANCELED, or what it did
    /// before) still arrives and drops the owner's reference.
    func cancel(_ owner: AnyObject, _ operation: SocketOperation) {
        let entry = nextEntry()
        io_uring_prep_cancel64(entry, Self.userData(owner, operation), 0)
        io_uring_sqe_set_data64(entry, Self.ignored)
    }
}
