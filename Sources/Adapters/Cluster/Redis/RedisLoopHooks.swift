// hiredis' event hooks on our loop: its socket registered with the poller, its writes batched
// into the loop's before-sleep flush.
internal import CHiredis
internal import Logging

extension RedisConnection {
    func installHooks(_ context: UnsafeMutablePointer<redisAsyncContext>) {
        context.pointee.ev.data = Unmanaged.passUnretained(self).toOpaque()
        context.pointee.ev.addRead = { data in RedisConnection.hooked(data)?.change(add: .readable) }
        context.pointee.ev.delRead = { data in RedisConnection.hooked(data)?.change(remove: .readable) }
        context.pointee.ev.addWrite = { data in RedisConnection.hooked(data)?.wantWrite() }
        context.pointee.ev.delWrite = { data in RedisConnection.hooked(data)?.change(remove: .writable) }
        context.pointee.ev.cleanup = { data in RedisConnection.hooked(data)?.cleanupHook() }
    }

    /// hiredis asks for a write after every command. Once connected, we write in the loop's
    /// before-sleep flush instead of arming EPOLLOUT: the commands of a turn (many PUBLISHes)
    /// leave in one write, and no epoll_ctl pair is spent per command. EPOLLOUT is armed only
    /// to detect the connect, or when the socket is full.
    private func wantWrite() {
        guard let context else { return }
        let connected = context.pointee.c.flags & Int32(REDIS_CONNECTED) != 0
        if !connected || writing {
            change(add: .writable)
        } else if !writeScheduled {
            writeScheduled = true
            loop.markDirty(self)
        }
    }

    public func flush(on loop: EventLoop) {
        writeScheduled = false
        guard let context else { return }
        writing = true
        redisAsyncHandleWrite(context)
        writing = false
    }

    private func change(add: PollerInterest = [], remove: PollerInterest = []) {
        guard let context else { return }
        let descriptor = context.pointee.c.fd
        let desired = interest.union(add).subtracting(remove)
        do {
            if registeredDescriptor < 0 {
                try loop.register(descriptor, interest: desired, handler: self)
                registeredDescriptor = descriptor
            } else {
                try loop.setInterest(descriptor, desired)
            }
            interest = desired
        } catch {
            logger.error("redis poller registration failed", metadata: ["reason": "\(error)"])
        }
    }

    private func cleanupHook() {
        if registeredDescriptor >= 0 {
            // hiredis calls this hook around closing the socket, and on a refused connection
            // after it is already closed: epoll_ctl(DEL) then fails with EBADF (seen in a
            // parallel test run). The socket is closed either way, which removes it from epoll,
            // so the loop only forgets it.
            loop.deregisterForClose(registeredDescriptor)
            registeredDescriptor = -1
        }
        interest = []
    }

    public func readable(on loop: EventLoop) {
        if let context { redisAsyncHandleRead(context) }
    }

    public func writable(on loop: EventLoop) {
        guard let context else { return }
        writing = true
        redisAsyncHandleWrite(context)
        writing = false
    }

    public func hangup(on loop: EventLoop) {
        if let context { redisAsyncHandleRead(context) }
    }

    static func owner(_ context: UnsafePointer<redisAsyncContext>?) -> RedisConnection? {
        guard let data = context?.pointee.data else { return nil }
        return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
    }

    static func hooked(_ data: UnsafeMutableRawPointer?) -> RedisConnection? {
        guard let data else { return nil }
        return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
    }
}
