// The event loop over real loopback sockets, for both pollers: accept, read, partial writes,
// timers, cross-thread hand-off, close from either side.
@testable import Adapters
import Dispatch
import Glibc
import Logging
import Synchronization
import Testing
import TestSupport

/// Echoes every byte back, and reports closes.
final class EchoTransport: Transport, ConnectionHandler {
    let closed = DispatchSemaphore(value: 0)
    let accepted = DispatchSemaphore(value: 0)
    var connections: [UInt64: Connection] = [:]
    /// When set, the first bytes received make the server send this many bytes back instead.
    var bulkReply: Int?
    /// After the bulk reply, close without lingering, as for a client that asked to close.
    var closesAfterBulkAtOnce = false

    func accepted(_ connection: Connection) {
        connection.handler = self
        connections[connection.id] = connection
        accepted.signal()
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: Connection) {
        if let bulk = bulkReply {
            bulkReply = nil
            // Many frames of 64 KiB, so the queue spills and partial writes happen mid-frame.
            let chunk = 64 * 1024
            for start in stride(from: 0, to: bulk, by: chunk) {
                let count = min(chunk, bulk - start)
                #expect(connection.send(EncodedFrame(count: count) { out in
                    for index in 0..<count { out[index] = UInt8(truncatingIfNeeded: (start + index) % 251) }
                }))
            }
            if closesAfterBulkAtOnce { connection.closeAfterFlush(lingering: false) }
            return
        }
        connection.send(EncodedFrame(copying: bytes))
        if bytes.contains(UInt8(ascii: "!")) { connection.closeAfterFlush() }
        if bytes.contains(UInt8(ascii: ".")) { connection.closeAfterFlush(lingering: false) }
    }

    func connectionClosed(_ connection: Connection) {
        connections.removeValue(forKey: connection.id)
        closed.signal()
    }

    func drain() {}
    func closeAll() { for connection in Array(connections.values) { connection.close() } }
    var openConnectionCount: Int { connections.count }
}

/// A running loop with an echo listener on a free loopback port.
final class LoopHarness {
    let group: EventLoopGroup
    let transport = EchoTransport()
    let listener: Listener
    var port: Int { listener.address.port }
    var loop: EventLoop { group.loops[0] }

    init(_ kind: PollerKind, queueLimits: (frames: Int, bytes: Int) = (100_000, 1 << 30)) throws {
        group = try EventLoopGroup(count: 1, poller: kind)
        listener = try Listener(
            address: SocketAddress(host: "127.0.0.1", port: 0)!, key: "test", loop: group.loops[0], transport: transport,
            budget: ConnectionBudget(limit: 100), queueLimits: queueLimits, logger: Logger(label: "test"))
        group.start()
    }

    deinit { group.stopAndJoin() }

    /// Runs `body` on the loop and waits for it.
    func onLoop<T>(_ body: @escaping (EventLoop) -> T) -> T { loop.runAndWait(body) }
}

struct EventLoopTests {
    static let kinds = PollerKind.allCases

    @Test(arguments: kinds)
    func acceptsAndEchoes(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        let client = try TestSocket(port: harness.port)
        try client.send("hello")
        #expect(try client.receive(exactly: 5) == Array("hello".utf8))
        try client.send("again")
        #expect(try client.receive(exactly: 5) == Array("again".utf8))
    }

    /// A queue bounded at one frame holds a request-response client's answer while it is
    /// written, and the answer that went out must not count against the next one. Through
    /// io_uring a send that went whole is only known to have at the next wake-up, which is the
    /// next request's: that is settled before the request is handled.
    @Test(arguments: kinds)
    func aQueueOfOneFrameAnswersEveryRequestOfALockstepClient(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind, queueLimits: (frames: 1, bytes: 1 << 20))
        let client = try TestSocket(port: harness.port)
        for round in 0..<50 {
            let request = Array("request \(round)".utf8)
            try client.send(request)
            #expect(try client.receive(exactly: request.count) == request, "round \(round)")
        }
    }

    @Test(arguments: kinds)
    func partialWritesDeliverEveryByteInOrder(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        let total = 4 << 20
        harness.transport.bulkReply = total
        let client = try TestSocket(port: harness.port)
        #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success)
        // A small server send buffer forces EAGAIN and partial writes mid-frame.
        harness.onLoop { _ in
            var size: Int32 = 16 * 1024
            setsockopt(harness.transport.connections.values.first!.descriptor, SOL_SOCKET, SO_SNDBUF, &size, 4)
        }
        try client.send("go")
        let received = try client.receive(exactly: total)
        var mismatch: Int?
        for index in 0..<total where received[index] != UInt8(truncatingIfNeeded: index % 251) {
            mismatch = index
            break
        }
        #expect(mismatch == nil)
        let (queued, stalls) = harness.onLoop { _ in
            let connection = harness.transport.connections.values.first!
            return (connection.queuedBytes, connection.stalledFlushes)
        }
        #expect(queued == 0)
        #expect(stalls > 0, "the socket never filled up, so partial writes were not exercised")
    }

    @Test(arguments: kinds)
    func serverSideCloseAfterFlushSendsEverythingThenEOF(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        do {
            let client = try TestSocket(port: harness.port)
            try client.send("bye!")
            #expect(try client.receiveUntilClosed() == Array("bye!".utf8))
        }  // Our FIN ends the server's linger at once.
        #expect(harness.transport.closed.wait(timeout: .now() + 10) == .success)
    }

    @Test(arguments: kinds)
    func aPeerThatSendsNothingMoreIsClosedRightAfterTheFlushNotOnItsFIN(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        let client = try TestSocket(port: harness.port)
        try client.send("done.")
        #expect(try client.receiveUntilClosed() == Array("done.".utf8))
        // The client has not closed; the server's close came with its FIN, and the loop task
        // runs after it. A lingering close would still hold the connection here (2 s).
        #expect(harness.onLoop { _ in harness.transport.openConnectionCount } == 0)
    }

    @Test(arguments: kinds)
    func bytesThatArriveWhileTheLastAnswerIsWrittenMakeTheCloseLingerRatherThanReset(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        let total = 4 << 20
        harness.transport.bulkReply = total
        harness.transport.closesAfterBulkAtOnce = true
        let client = try TestSocket(port: harness.port)
        #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success)
        // Small buffers on both sides: the answer is written only as fast as the client reads.
        var size: Int32 = 16 * 1024
        setsockopt(client.descriptor, SOL_SOCKET, SO_RCVBUF, &size, 4)
        harness.onLoop { _ in
            var size: Int32 = 16 * 1024
            setsockopt(harness.transport.connections.values.first!.descriptor, SOL_SOCKET, SO_SNDBUF, &size, 4)
        }
        try client.send("go")
        var received = try client.receive(exactly: 1)
        // The server has decided to close; these bytes reach it while most of the answer waits.
        try client.send("more")
        received += try client.receiveUntilClosed()
        // A close with them unread would have been a reset, and the reset would have dropped
        // what the client had not read yet.
        #expect(received.count == total)
    }

    @Test(arguments: kinds)
    func clientSideCloseIsNoticed(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        do {
            let client = try TestSocket(port: harness.port)
            try client.send("x")
            _ = try client.receive(exactly: 1)
        }  // The client socket closes here.
        #expect(harness.transport.closed.wait(timeout: .now() + 10) == .success)
        #expect(harness.onLoop { _ in harness.transport.openConnectionCount } == 0)
    }

    @Test(arguments: kinds)
    func queueOverflowIsRefusedNotDropped(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind, queueLimits: (frames: 3, bytes: 1 << 30))
        let client = try TestSocket(port: harness.port)
        #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success)
        let accepted = harness.onLoop { _ -> [Bool] in
            let connection = harness.transport.connections.values.first!
            return (0..<5).map { _ in connection.send(EncodedFrame("abc")) }
        }
        // The flush runs only after the task, so all five sends met a queue that had not drained.
        #expect(accepted == [true, true, true, false, false])
        #expect(try client.receive(exactly: 9) == Array("abcabcabc".utf8))
    }

    @Test(arguments: kinds)
    func timersFireInDeadlineOrderOnTheLoopThread(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        let order = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        harness.loop.execute { loop in
            for (delay, tag) in [(30, 3), (10, 1), (20, 2), (10, 11)] {
                loop.schedule(after: .milliseconds(delay)) { loop in
                    #expect(loop.inLoop)
                    order.withLock { $0.append(tag) }
                    if tag == 3 { done.signal() }
                }
            }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(order.withLock { $0 } == [1, 11, 2, 3])
    }

    /// On a manual clock, a timer fires when the clock is moved to its deadline, never before,
    /// however long the test takes: the loop does not sleep for deadlines then.
    @Test(arguments: kinds)
    func aLoopOnAManualClockFiresTimersWhenTheClockReachesThem(_ kind: PollerKind) throws {
        let clock = ManualClock()
        let group = try EventLoopGroup(count: 1, poller: kind, manualTime: clock)
        group.start()
        defer { group.stopAndJoin() }
        let fired = Mutex<[Int]>([])
        let scheduled = DispatchSemaphore(value: 0)
        group.loops[0].execute { loop in
            loop.schedule(after: .seconds(5)) { _ in fired.withLock { $0.append(1) } }
            loop.schedule(afterSharedDelay: .seconds(7)) { _ in fired.withLock { $0.append(2) } }
            scheduled.signal()
        }
        #expect(scheduled.wait(timeout: .now() + 10) == .success)
        #expect(clock.advance(by: .milliseconds(4999), running: group.loops))
        #expect(fired.withLock { $0 }.isEmpty)
        #expect(clock.advance(by: .milliseconds(1), running: group.loops))
        #expect(fired.withLock { $0 } == [1])
        #expect(clock.advance(by: .seconds(2), running: group.loops))
        #expect(fired.withLock { $0 } == [1, 2])
    }

    @Test func timersOfOwnersThatAreGoneDoNotAccumulateAndLiveOnesStillFire() throws {
        let harness = try LoopHarness(.epoll)
        let fired = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        let waiting = harness.onLoop { loop -> Int in
            let live = TimerGuard()
            for order in 0..<3 {
                loop.schedule(after: .milliseconds(50 + order), owner: live) { _ in
                    fired.withLock { $0.append(order) }
                    if order == 2 { done.signal() }
                }
            }
            // 20,000 closed connections' timers, an hour away: kept, they would all wait.
            for _ in 0..<20_000 {
                let gone = TimerGuard()
                loop.schedule(after: .seconds(3600), owner: gone) { _ in Issue.record("a gone owner's timer ran") }
                gone.ownerDeinitialized()
            }
            return loop.scheduledTimers
        }
        #expect(waiting < 2 * TimerHeap.smallestCompaction + 3)
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(fired.withLock { $0 } == [0, 1, 2])
    }

    @Test(arguments: kinds)
    func executeFromManyThreadsRunsEveryTaskOnTheLoop(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        let count = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        let loop = harness.loop
        DispatchQueue.concurrentPerform(iterations: 1000) { _ in
            loop.execute { loop in
                #expect(loop.inLoop)
                if count.withLock({ $0 += 1; return $0 }) == 1000 { done.signal() }
            }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
    }

    @Test(arguments: kinds)
    func listenerStopsAcceptingAfterClose(_ kind: PollerKind) throws {
        let harness = try LoopHarness(kind)
        // The task holds the listener, not the harness: a harness freed by the loop's thread
        // would stop and join its own thread.
        let listener = harness.listener
        let (before, after) = harness.onLoop { loop -> (Int, Int) in
            let before = loop.registeredCount
            listener.close()
            return (before, loop.registeredCount)
        }
        // Checked on the loop rather than by connecting: a parallel test may reuse the port at once.
        #expect(after == before - 1)
    }

    @Test func aSecondWorkerOnTheSamePortGetsOneClearLine() throws {
        let harness = try LoopHarness(.epoll)
        // The harness listener uses SO_REUSEPORT; the reservation does not, so it must be refused.
        #expect {
            _ = try AddressReservation(SocketAddress(host: "127.0.0.1", port: harness.port)!, key: "ws_bind/ws_port")
        } throws: { error in
            "\(error)" == "bind(ws_bind/ws_port 127.0.0.1:\(harness.port)): address already in use"
        }
    }

    /// Port 0 is resolved once and held: until the listeners hold it, the port is not free for
    /// another process (a plain bind is refused; released at once, it would succeed), yet this
    /// worker's listeners can join it.
    @Test func aReservedPortIsKeptFromOthersUntilTheListenersHoldIt() throws {
        let group = try EventLoopGroup(count: 1, poller: .epoll)
        defer { group.stopAndJoin() }
        let reservation = try AddressReservation(SocketAddress(host: "127.0.0.2", port: 0)!, key: "ws_bind/ws_port")
        let port = reservation.address.port
        #expect(port != 0)
        #expect(!Self.plainBindSucceeds(reservation.address))
        let listener = try Listener(
            address: reservation.address, key: "ws_bind/ws_port", loop: group.loops[0], transport: EchoTransport(),
            budget: ConnectionBudget(limit: 10), queueLimits: (10, 1 << 20), logger: Logger(label: "test"))
        #expect(listener.address.port == port)
        reservation.release()
        #expect(throws: SystemError.self) { _ = try AddressReservation(reservation.address, key: "ws_bind/ws_port") }
        let held = UncheckedSendable(listener)
        let closed = DispatchSemaphore(value: 0)
        group.start()
        group.loops[0].execute { _ in
            held.value.close()
            closed.signal()
        }
        #expect(closed.wait(timeout: .now() + 10) == .success)
    }

    /// Binds without SO_REUSEADDR or SO_REUSEPORT, as a port-0 pick of another process would need.
    private static func plainBindSucceeds(_ address: SocketAddress) -> Bool {
        let descriptor = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var storage = address.storage
        return withUnsafePointer(to: &storage) { bind(descriptor, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), address.length) } == 0
    }

    /// The listener sets TCP_NODELAY once and accepted sockets inherit it; were that ever not so,
    /// pushes would wait up to 40 ms for delayed ACKs.
    @Test func acceptedSocketsInheritNoDelay() throws {
        // 127.0.0.2: a SO_REUSEPORT listener on a port picked by the kernel must not join the
        // port group of a parallel test's listener on 127.0.0.1 and take its connections.
        // (IPv6 inherits the same way; CI machines may lack ::1.)
        let host = "127.0.0.2"
        let listener = try Listener.bind(SocketAddress(host: host, port: 0)!, key: "ws_bind")
        defer { Syscall.close(listener) }
        var bound = SocketAddress(host: host, port: 0)!
        getsockname(listener, withUnsafeMutablePointer(to: &bound.storage) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: sockaddr.self) }, &bound.length)
        let client = socket(bound.family, Int32(SOCK_STREAM.rawValue), 0)
        defer { Syscall.close(client) }
        var storage = bound.storage
        let connected = withUnsafePointer(to: &storage) { connect(client, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), bound.length) }
        #expect(connected == 0)
        var accepted: Int32 = -1
        var pollEntry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pollEntry, 1, 10_000) == 1)
        accepted = accept(listener, nil, nil)
        defer { Syscall.close(accepted) }
        #expect(accepted >= 0)
        var value: Int32 = 0
        var length = socklen_t(4)
        #expect(getsockopt(accepted, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0)
        #expect(value != 0)
    }

    @Test func bindToAForeignAddressFailsWithAClearMessage() {
        #expect {
            _ = try Listener.bind(SocketAddress(host: "192.0.2.1", port: 0)!, key: "internal_bind")
        } throws: { error in
            "\(error)" == "bind(internal_bind 192.0.2.1:0): cannot assign requested address"
        }
    }
}
