// Socket I/O by completion: accepts, receives and sends are io_uring operations the kernel
// finishes on its own and reports with the next wait (docs/adr/0014 "Who owns a buffer").
internal import Glibc
internal import CUring

/// A loop's poller and socket I/O on io_uring: sockets through the ring where this kernel can
/// receive and send for them, by readiness through the same ring otherwise.
func uringBackend() throws(SystemError) -> LoopBackend {
    let poller = try UringPoller()
    return LoopBackend(poller: poller, socketIO: poller.completesSocketIO ? UringSocketIO(poller) : ReadinessSocketIO())
}

/// What the ring has in the kernel for one connection (its `socketState`).
final class UringChannel {
    /// A multishot receive is armed.
    var receiving = false
    /// A send is in flight, covering this many frames from the head of the queue and asking for
    /// this many bytes.
    var sendInFlight: (bytes: Int, frames: Int, quiet: Bool)?
    /// Sends go quietly (UringQuietSend.swift) until one falls short; then the next waits in the
    /// kernel for room, and once one went whole they are quiet again.
    var sendsQuietly = true
    /// Counts this connection's quiet sends, so a record of one that ended cannot end the next.
    var quietSendNumber: UInt32 = 0
    /// The submission batch that last took an entry of ours (see `detach`).
    var preparedInBatch: UInt64 = .max
}

/// The completion implementation of the socket I/O port.
final class UringSocketIO: SocketIO {
    /// The accepts a listener keeps in the kernel. Each takes one connection and is armed
    /// again, so a turn accepts up to this many per listener.
    static let acceptsInFlight = 16

    let ring: UringPoller
    private var acceptSlots: [ObjectIdentifier: [AcceptSlot]] = [:]
    /// Receives the kernel ended because every buffer was taken (each was armed again).
    private(set) var receiveBufferShortages = 0

    init(_ ring: UringPoller) {
        self.ring = ring
    }

    @inline(__always)
    private func channel(_ connection: Connection) -> UringChannel {
        unsafeDowncast(connection.socketState.unsafelyUnwrapped, to: UringChannel.self)
    }

    // MARK: - Listeners (UringAccept.swift)

    func listen(_ listener: Listener) throws(SystemError) {
        listener.loop.adopt(listener.descriptor, handler: listener)
        let slots = (0..<Self.acceptsInFlight).map { _ in AcceptSlot(listener: listener) }
        acceptSlots[ObjectIdentifier(listener)] = slots
        for slot in slots { ring.startAccepting(slot) }
    }

    func stopListening(_ listener: Listener) {
        // An accept in the kernel holds the socket open: cancel them, and hand the
        // cancellations over before the number can be reused.
        for slot in acceptSlots.removeValue(forKey: ObjectIdentifier(listener)) ?? [] where slot.inFlight {
            ring.cancel(slot, .accept)
        }
        ring.submitNow()
        listener.loop.deregisterForClose(listener.descriptor)
    }

    private func acceptCompleted(_ result: Int32, _ slot: AcceptSlot) {
        slot.inFlight = false
        let listener = slot.listener
        guard listener.isOpen else {
            // Accepted just before the cancellation took effect: nobody will serve it.
            if result >= 0 { Syscall.close(result) }
            return
        }
        if result >= 0 {
            listener.admit(result, peer: SocketAddress(storage: slot.peer.pointee, length: slot.peerLength.pointee))
            // The transport may have closed this listener; its number must not be armed again.
            if listener.isOpen { ring.startAccepting(slot) }
        } else if listener.acceptFailed(-result, resume: { [ring] _ in if !slot.inFlight { ring.startAccepting(slot) } }) {
            ring.startAccepting(slot)
        }
    }

    // MARK: - Connections

    func attach(_ connection: Connection) throws(SystemError) {
        connection.loop.adopt(connection.descriptor, handler: connection)
        let channel = UringChannel()
        connection.socketState = channel
        startReceiving(connection, channel)
    }

    private func startReceiving(_ connection: Connection, _ channel: UringChannel) {
        ring.startReceiving(connection)
        channel.receiving = true
        channel.preparedInBatch = ring.batch
    }

    /// One send in flight at a time: the next starts from the completion of this one.
    func flush(_ connection: Connection) {
        let channel = channel(connection)
        if let send = channel.sendInFlight {
            // Behind a quiet send not yet settled, the flush can only start once it is: the
            // loop must not sleep until then.
            if send.quiet { ring.quiet.followUp = true }
            return
        }
        guard !connection.queue.isEmpty else {
            connection.queueDrained()
            return
        }
        let quiet = channel.sendsQuietly && ring.quiet.enabled
        if quiet { channel.quietSendNumber &+= 1 }
        let (bytes, frames) = ring.send(connection, quietNumber: quiet ? channel.quietSendNumber : nil) { vectors, capacity in
            connection.queue.gatherFrames(into: vectors, capacity: capacity, budget: Connection.writeBudgetPerTurn)
        }
        channel.sendInFlight = (bytes, frames, quiet)
        channel.preparedInBatch = ring.batch
        if quiet && (connection.queue.frameCount > frames || connection.state == .closingAfterFlush) { ring.quiet.followUp = true }
    }

    /// The receive is armed already.
    func awaitPeerClose(_ connection: Connection) throws(SystemError) {}

    func framesInFlight(_ connection: Connection) -> Int {
        channel(connection).sendInFlight?.frames ?? 0
    }

    func detach(_ connection: Connection) -> Bool {
        let channel = channel(connection)
        if channel.receiving { ring.cancel(connection, .receive) }
        // A quiet send is never left waiting in the kernel: there is nothing to cancel, and
        // the frames it covered go once it is settled.
        if let send = channel.sendInFlight {
            if send.quiet { ring.quiet.followUp = true } else { ring.cancel(connection, .send) }
        }
        // An entry of ours not submitted yet names the descriptor by number: submitted after
        // the close, it would run on the next socket to get that number.
        if channel.preparedInBatch == ring.batch { ring.submitNow() }
        return channel.sendInFlight != nil
    }

    // MARK: - Completions

    /// Before any handler runs: one that queues frames must find the queue without what went
    /// out already, or a bounded queue would refuse frames it has room for.
    func turnBegins() {
        settleQuietSends()
    }

    func readinessDispatched() {
        deliverSocketCompletions()
    }

    /// Applies the shortfalls taken, then settles every reaped send without one as whole.
    private func settleQuietSends() {
        if !ring.quiet.shortfalls.isEmpty {
            for completion in ring.quiet.shortfalls {
                // The ledger holds the connection until its send is settled, and a send's
                // shortfall is applied no later than the turn that settles it.
                let connection = Unmanaged<Connection>.fromOpaque(UringPoller.object(of: completion.userData)).takeUnretainedValue()
                ring.quiet.fellShort += 1
                quietSendFellShort(connection, completion.result)
            }
            ring.quiet.shortfalls.removeAll(keepingCapacity: true)
        }
        if ring.quiet.shortfallsLost { abandonQuietSendsInDoubt() }
        guard !ring.quiet.reaped.isEmpty else { return }
        for send in ring.quiet.reaped where quietSendWentWhole(send.connection, send.number) { ring.quiet.wentWhole += 1 }
        ring.quiet.settled()
    }

    /// The kernel dropped completions: taking a short send for whole would cut a hole in its
    /// stream, so those connections are closed, and this loop's sends wait in the kernel from
    /// now on.
    private func abandonQuietSendsInDoubt() {
        for send in ring.quiet.abandonInDoubt() where hasQuietSendInFlight(send.connection, send.number) { send.connection.close() }
    }

    /// The quiet send `number` posted nothing: the socket took all of it. False when that send
    /// had fallen short instead.
    private func quietSendWentWhole(_ connection: Connection, _ number: UInt32) -> Bool {
        guard hasQuietSendInFlight(connection, number), let send = channel(connection).sendInFlight else { return false }
        sendCompleted(connection, Int32(send.bytes))
        return true
    }

    private func hasQuietSendInFlight(_ connection: Connection, _ number: UInt32) -> Bool {
        let channel = channel(connection)
        return channel.sendInFlight?.quiet == true && number == channel.quietSendNumber
    }

    /// The current quiet send took only part, or none (-EAGAIN), or failed: the rest goes with a
    /// send that waits for room.
    private func quietSendFellShort(_ connection: Connection, _ result: Int32) {
        let channel = channel(connection)
        guard channel.sendInFlight?.quiet == true else { return }
        channel.sendsQuietly = false
        sendCompleted(connection, result == -EAGAIN ? 0 : result)
    }

    /// Delivers the socket completions the last wait took, after the loop read the clock.
    private func deliverSocketCompletions() {
        guard !ring.socketCompletions.isEmpty else { return }
        swap(&ring.socketCompletions, &ring.deliveringCompletions)
        for completion in ring.deliveringCompletions {
            if completion.userData & 0xF == UringPoller.SocketOperation.accept.rawValue {
                let reference = Unmanaged<AcceptSlot>.fromOpaque(UringPoller.object(of: completion.userData))
                acceptCompleted(completion.result, reference.takeUnretainedValue())
                reference.release()
                continue
            }
            let reference = Unmanaged<Connection>.fromOpaque(UringPoller.object(of: completion.userData))
            let connection = reference.takeUnretainedValue()
            if completion.userData & 0xF == UringPoller.SocketOperation.send.rawValue {
                sendCompleted(connection, completion.result)
                reference.release()
                continue
            }
            let more = completion.flags & UInt32(IORING_CQE_F_MORE) != 0
            if completion.flags & UInt32(IORING_CQE_F_BUFFER) != 0, let buffers = ring.buffers {
                let id = UInt16(truncatingIfNeeded: completion.flags >> UInt32(IORING_CQE_BUFFER_SHIFT))
                receiveCompleted(connection, completion.result, buffers.bytes(id, count: max(0, Int(completion.result))), more: more)
                buffers.recycle(id)
            } else {
                receiveCompleted(connection, completion.result, UnsafeRawBufferPointer(start: nil, count: 0), more: more)
            }
            if !more { reference.release() }
        }
        ring.deliveringCompletions.removeAll(keepingCapacity: true)
    }

    /// Data (a buffer lent until this returns), the end of the stream (0), or an error.
    private func receiveCompleted(_ connection: Connection, _ result: Int32, _ bytes: UnsafeRawBufferPointer, more: Bool) {
        let channel = channel(connection)
        if !more { channel.receiving = false }
        // A closed connection's receive ends with -ECANCELED (its close cancelled it) or with
        // whatever had completed meanwhile; either way nobody reads it.
        guard connection.state != .closed else { return }
        switch result {
        case 1...:
            connection.received(bytes)
        case -ENOBUFS:
            // The kernel ends a multishot receive when the buffer ring ran dry: the data waits
            // in the socket, and the receive is armed again once this batch gave buffers back.
            receiveBufferShortages += 1
        default:
            connection.close()  // The peer's FIN (0), or a reset and friends: nothing to answer.
            return
        }
        if !channel.receiving && connection.state != .closed { startReceiving(connection, channel) }
    }

    private func sendCompleted(_ connection: Connection, _ result: Int32) {
        let channel = channel(connection)
        let asked = channel.sendInFlight
        channel.sendInFlight = nil
        guard connection.state != .closed else {
            if result > 0 { connection.loop.metrics.bytesSent &+= Int(result) }
            connection.queue.removeAll()
            return
        }
        guard result >= 0, let asked else {
            connection.close()  // EPIPE, ECONNRESET: the peer is gone.
            return
        }
        connection.sent(Int(result))
        if Int(result) < asked.bytes { connection.stalledFlushes += 1 } else if !asked.quiet { channel.sendsQuietly = true }
        if connection.hasOutput || connection.state == .closingAfterFlush { connection.scheduleFlush() }
    }
}
