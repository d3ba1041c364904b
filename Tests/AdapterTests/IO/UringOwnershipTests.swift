// Buffers the kernel holds while io_uring operations are in flight: a connection closed with
// a send and a receive outstanding, a peer that resets mid-send, the receive buffers running out.
@testable import Adapters
import Dispatch
import Glibc
import Logging
import Testing
import TestSupport

/// True where connections' I/O completes through io_uring (a kernel from 6.1 that allows it).
let uringCompletesSocketIO: Bool = {
    guard let poller = try? UringPoller() else { return false }
    defer { poller.close() }
    return poller.completesSocketIO
}()

@Suite(.enabled(if: uringCompletesSocketIO, "this kernel does not receive and send through io_uring"))
struct UringOwnershipTests {

    @Test func aConnectionClosedWithASendAndAReceiveInFlightIsFreedByTheirCompletions() throws {
        let harness = try LoopHarness(.uring)
        let client = try TestSocket(port: harness.port)
        client.setReceiveBuffer(4096)
        #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success)
        weak var watched: Connection?
        harness.onLoop { _ in
            let connection = harness.transport.connections.values.first!
            watched = connection
            // More than the socket takes: the send stays in the kernel, waiting for room.
            for _ in 0..<64 {
                connection.send(EncodedFrame(count: 64 * 1024) { out in for index in 0..<out.count { out[index] = 7 } })
            }
        }
        // Close as soon as a send and the receive are both outstanding.
        let closedInFlight = waitOnLoop(harness) {
            guard let connection = harness.transport.connections.values.first, Self.hasSendInFlight(connection),
                (connection.socketState as! UringChannel).receiving
            else {
                return false
            }
            connection.close()
            return true
        }
        #expect(closedInFlight)
        #expect(harness.transport.closed.wait(timeout: .now() + 10) == .success)
        // The kernel's references went with the completions of the cancelled operations.
        let freed = waitOnLoop(harness) { watched == nil }
        #expect(freed, "the connection outlived the completions of its operations")
        #expect(harness.onLoop { $0.registeredCount } == 1)  // the listener
        // What the kernel had sent stays for the client; it would read it at 4 KiB a window.
        client.resetNow()
    }

    /// A listener keeps accepts in the kernel, and each holds the listening socket open and
    /// the address it writes into: closing the listener must cancel them, or the port would go
    /// on taking connections nobody serves, and the listener would never be freed.
    @Test func aListenerClosedWithItsAcceptsInTheKernelLetsGoOfTheSocketAndTheirMemory() throws {
        let harness = try LoopHarness(.uring)
        // 127.0.0.3: after the close, no parallel test's listener can take the port there.
        var listener: Listener? = harness.onLoop { loop in
            try? Listener(
                address: SocketAddress(host: "127.0.0.3", port: 0)!, key: "test", loop: loop, transport: harness.transport,
                budget: ConnectionBudget(limit: 10), queueLimits: (10, 1 << 20), logger: Logger(label: "test"))
        }
        let port = try #require(listener).address.port
        weak var watched = listener
        let client = try TestSocket(port: port, host: "127.0.0.3")
        #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success, "accepted through the ring")
        do {
            let closing = UncheckedSendable(listener!)
            harness.onLoop { _ in closing.value.close() }
        }
        listener = nil
        let freed = waitOnLoop(harness) { watched == nil }
        #expect(freed, "the listener outlived the completions of its accepts")
        #expect(throws: TestSocketError.failed("connect", ECONNREFUSED)) { _ = try TestSocket(port: port, host: "127.0.0.3") }
        client.resetNow()
    }

    @Test func aPeerThatResetsMidSendClosesTheConnectionAndNothingElse() throws {
        let harness = try LoopHarness(.uring)
        let client = try TestSocket(port: harness.port)
        client.setReceiveBuffer(4096)
        let bystander = try TestSocket(port: harness.port)
        for _ in 0..<2 { #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success) }
        harness.onLoop { _ in harness.transport.bulkReply = 8 << 20 }  // the loop reads it
        try client.send("go")
        // Wait until the server is stuck on a send the client does not read, then reset.
        #expect(waitOnLoop(harness) { harness.transport.connections.values.contains { Self.hasSendInFlight($0) && $0.stalledFlushes > 0 } })
        client.resetNow()
        #expect(harness.transport.closed.wait(timeout: .now() + 10) == .success)
        try bystander.send("still here")
        #expect(try bystander.receive(exactly: 10) == Array("still here".utf8))
        #expect(harness.onLoop { _ in harness.transport.openConnectionCount } == 1)
    }

    @Test func receiveBuffersRunningOutMakeReadsWaitAndLoseNothing() throws {
        let harness = try LoopHarness(.uring)
        let clients = try (0..<64).map { _ in try TestSocket(port: harness.port) }
        for _ in clients { #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success) }
        // What a loopback socket buffers without its reader: 8 of the ring's buffers per client.
        let perClient = 64 * 1024
        // Letters only: the echo transport closes after a "!".
        let payloads = clients.indices.map { index in (0..<perClient).map { UInt8(ascii: "a") + UInt8(($0 &* 31 &+ index) % 26) } }
        // Hold the loop while every client's data piles up in its socket: the next turn then
        // has far more to receive than the ring has buffers.
        let held = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        harness.loop.execute { _ in
            holding.signal()
            held.wait()
        }
        #expect(holding.wait(timeout: .now() + 10) == .success)
        for (client, payload) in zip(clients, payloads) { try client.send(payload) }
        held.signal()
        for (client, payload) in zip(clients, payloads) {
            #expect(try client.receive(exactly: perClient) == payload)
        }
        let shortages = harness.onLoop { Self.ring($0).receiveBufferShortages }
        #expect(shortages > 0, "the ring never ran dry, so the wait for buffers was not exercised")
    }

    /// A quiet send posts no completion when it went whole, so the frames it covered are let go
    /// only once the kernel is known to be done with it; one that fell short hands the rest to a
    /// send that waits for room, and the stream stays whole and in order.
    @Test(.enabled(if: UringPoller.quietSendsWork, "this kernel does not finish non-blocking sends at submission"))
    func aQuietSendThatFallsShortLeavesTheRestToAWaitingSendAndLosesNothing() throws {
        let harness = try LoopHarness(.uring)
        let total = 4 << 20
        harness.onLoop { _ in harness.transport.bulkReply = total }
        let client = try TestSocket(port: harness.port)
        #expect(harness.transport.accepted.wait(timeout: .now() + 10) == .success)
        harness.onLoop { _ in
            var size: Int32 = 16 * 1024
            setsockopt(harness.transport.connections.values.first!.descriptor, SOL_SOCKET, SO_SNDBUF, &size, 4)
        }
        let before = harness.onLoop { (Self.ring($0).ring.quiet.wentWhole, Self.ring($0).ring.quiet.fellShort) }
        try client.send("go")
        let received = try client.receive(exactly: total)
        #expect(received.indices.first { received[$0] != UInt8(truncatingIfNeeded: $0 % 251) } == nil, "a byte out of place")
        let short = harness.onLoop { Self.ring($0).ring.quiet.fellShort } - before.1
        #expect(short > 0, "no quiet send fell short, so the hand-over to a waiting send was not exercised")
        // Once a waiting send went whole, sends are quiet again.
        try client.send("ping")
        #expect(try client.receive(exactly: 4) == Array("ping".utf8))
        #expect(waitOnLoop(harness) { Self.ring(harness.loop).ring.quiet.wentWhole > before.0 })
        #expect(harness.onLoop { _ in harness.transport.connections.values.first!.queuedFrames } == 0)
    }

    private static func ring(_ loop: EventLoop) -> UringSocketIO { loop.socketIO as! UringSocketIO }

    private static func hasSendInFlight(_ connection: Connection) -> Bool { connection.loop.socketIO.framesInFlight(connection) > 0 }

    /// Checks `condition` on the loop after every turn until it holds, for up to ten seconds.
    private func waitOnLoop(_ harness: LoopHarness, _ condition: @escaping () -> Bool) -> Bool {
        let met = DispatchSemaphore(value: 0)
        let check = UncheckedSendable(condition)
        harness.loop.execute { loop in
            loop.afterEachTurn = { loop in
                guard check.value() else { return }
                loop.afterEachTurn = nil
                met.signal()
            }
        }
        let held = met.wait(timeout: .now() + 10) == .success
        harness.onLoop { $0.afterEachTurn = nil }
        return held
    }
}
