// Socket I/O by readiness (epoll, poll): the poller says a socket is ready, and the loop's thread
// reads, writes and accepts with system calls of its own. Nothing is in the kernel between turns.
internal import Glibc
internal import CLinux

/// The readiness implementation of the socket I/O port. It keeps nothing per connection: what a
/// socket waits for is its registration in the loop.
final class ReadinessSocketIO: SocketIO {
    /// Reads per readable event before other sockets get their turn.
    static let readsPerEvent = 4

    func listen(_ listener: Listener) throws(SystemError) {
        try listener.loop.register(listener.descriptor, interest: .readable, handler: listener)
    }

    func stopListening(_ listener: Listener) {
        listener.loop.deregister(listener.descriptor)
    }

    func attach(_ connection: Connection) throws(SystemError) {
        try connection.loop.register(connection.descriptor, interest: .readable, handler: connection)
    }

    /// Writes first and arms `EPOLLOUT` only for what the socket could not take
    /// (docs/development.md "Write first, arm EPOLLOUT later").
    func flush(_ connection: Connection) {
        let loop = connection.loop
        var writtenThisTurn = 0
        while !connection.queue.isEmpty && writtenThisTurn < Connection.writeBudgetPerTurn {
            let entries = connection.queue.gather(
                into: UnsafeMutableRawPointer(loop.iovecs).assumingMemoryBound(to: IOVector.self),
                capacity: EventLoop.iovecCapacity, budget: Connection.writeBudgetPerTurn - writtenThisTurn)
            var message = msghdr()
            message.msg_iov = loop.iovecs
            message.msg_iovlen = entries
            let result: IOResult<Int>
            do {
                // sendmsg rather than writev: MSG_NOSIGNAL, so a vanished peer is EPIPE, not SIGPIPE.
                result = try Syscall.call("sendmsg", { sendmsg(connection.descriptor, &message, Int32(MSG_NOSIGNAL)) })
            } catch {
                connection.close()
                return
            }
            guard case .processed(let written) = result else { break }
            connection.sent(written)
            writtenThisTurn += written
        }
        if connection.queue.isEmpty {
            if connection.state == .closingAfterFlush {
                connection.queueDrained()
            } else {
                setWritableInterest(connection, false)
            }
        } else {
            connection.stalledFlushes += 1
            setWritableInterest(connection, true)
        }
    }

    private func setWritableInterest(_ connection: Connection, _ wanted: Bool) {
        let loop = connection.loop
        let current = loop.interest(of: connection.descriptor)
        let desired: PollerInterest = wanted ? current.union(.writable) : current.subtracting(.writable)
        do { try loop.setInterest(connection.descriptor, desired) } catch { connection.close() }
    }

    func awaitPeerClose(_ connection: Connection) throws(SystemError) {
        try connection.loop.setInterest(connection.descriptor, .readable)
    }

    func framesInFlight(_ connection: Connection) -> Int { 0 }

    func detach(_ connection: Connection) -> Bool { false }

    func turnBegins() {}

    func readinessDispatched() {}
}

extension Connection: LoopHandler {
    public func readable(on loop: EventLoop) {
        for _ in 0..<ReadinessSocketIO.readsPerEvent {
            guard isReading else { return }
            let buffer = loop.readBuffer
            let result: IOResult<Int>
            do {
                result = try Syscall.call("read", { Glibc.read(descriptor, buffer.baseAddress, buffer.count) })
            } catch {
                close()  // ECONNRESET and friends: nothing to answer.
                return
            }
            switch result {
            case .wouldBlock:
                return
            case .processed(0):
                close()
                return
            case .processed(let count):
                received(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                if count < buffer.count { return }
            }
        }
    }

    public func writable(on loop: EventLoop) {
        flush(on: loop)
    }

    public func hangup(on loop: EventLoop) {
        close()
    }
}

extension Listener: LoopHandler {
    public func readable(on loop: EventLoop) {
        for _ in 0..<Self.acceptsPerEvent {
            guard isOpen else { return }
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result: IOResult<Int32>
            do {
                result = try Syscall.call("accept4", {
                    withUnsafeMutablePointer(to: &peer) {
                        clinux_accept4(
                            descriptor, UnsafeMutableRawPointer($0).assumingMemoryBound(to: sockaddr.self), &peerLength,
                            Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                    }
                })
            } catch {
                // Readiness stays level-triggered: a pause stops watching the socket meanwhile.
                if !acceptFailed(error.errno, resume: { try? $0.loop.setInterest($0.descriptor, .readable) }) {
                    try? loop.setInterest(descriptor, [])
                }
                return
            }
            guard case .processed(let client) = result else { return }
            admit(client, peer: SocketAddress(storage: peer, length: peerLength))
        }
    }

    public func writable(on loop: EventLoop) {}

    public func hangup(on loop: EventLoop) {}
}
