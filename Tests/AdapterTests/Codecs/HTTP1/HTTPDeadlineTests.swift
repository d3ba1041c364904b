// The HTTP server's deadlines over real sockets, on a manual clock: an idle keep-alive
// connection closes, a slow head or body gets 408, and a busy connection keeps one timer. No
// test waits for a deadline to pass: each moves the clock past it.
@testable import Adapters
import Dispatch
import Glibc
import Logging
import Synchronization
import Testing
import TestSupport

/// Answers every request with `200 ok`, kept alive.
final class OKResponder: HTTPResponder {
    func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        .respond(HTTPResponse.text(.ok, "ok", keepAlive: true), keepAlive: true)
    }

    func reject(_ error: HTTPParseError) -> EncodedFrame {
        HTTPResponse.text(.badRequest, "bad request", keepAlive: false)
    }
}

final class HTTPHarness {
    let group: EventLoopGroup
    let listener: Listener
    let clock = ManualClock()
    var port: Int { listener.address.port }

    init(_ timeouts: HTTPTimeouts) throws {
        group = try EventLoopGroup(count: 1, poller: .epoll, manualTime: clock)
        listener = try Listener(
            address: SocketAddress(host: "127.0.0.1", port: 0)!, key: "test", loop: group.loops[0],
            transport: HTTPTransport(responder: OKResponder(), timeouts: timeouts),
            budget: ConnectionBudget(limit: 100), queueLimits: (100_000, 1 << 30), logger: Logger(label: "test"))
        group.start()
    }

    deinit { group.stopAndJoin() }

    func timersPending() -> Int { onLoop { $0.pendingTimerCount } }

    /// Connections the loop holds (every registration but the listener's).
    func openConnections() -> Int { onLoop { $0.registeredCount - 1 } }

    /// Moves the loop's time and returns once the timers due by then have run.
    func advance(by duration: Duration) {
        #expect(clock.advance(by: duration, running: group.loops))
    }

    /// Returns once the loop holds `count` timers: the server has taken in what the client sent
    /// and set its deadline by the loop's time before the clock moves.
    func awaitTimers(_ count: Int) {
        #expect(eventually(within: 30) { timersPending() == count })
    }

    private func onLoop(_ body: @escaping (EventLoop) -> Int) -> Int { group.loops[0].runAndWait(body) }
}

struct HTTPDeadlineTests {
    static let request = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    // Long enough that a request/response round trip never meets them, however slow the machine.
    static let long: Duration = .seconds(60)

    @Test func anIdleKeepAliveConnectionIsClosed() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: Self.long, request: Self.long, keepAlive: .seconds(5)))
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        try client.send(Self.request)
        #expect(try client.receive(through: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        _ = try client.receive(exactly: 3)  // "ok\n"
        harness.advance(by: .milliseconds(4999))
        #expect(client.isQuiet, "closed before its keep-alive deadline")
        harness.advance(by: .milliseconds(1))
        #expect(try client.receiveUntilClosed().isEmpty)
    }

    @Test func aHeadThatNeverEndsGets408() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: .seconds(5), request: Self.long, keepAlive: Self.long))
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        try client.send("GET /x HTTP/1.1\r\nHost: h\r\n")
        harness.awaitTimers(2)  // the keep-alive deadline of the new connection, and the head's
        harness.advance(by: .milliseconds(4999))
        #expect(client.isQuiet, "answered before the head deadline")
        harness.advance(by: .milliseconds(1))
        #expect(String(decoding: try client.receiveUntilClosed(), as: UTF8.self).hasPrefix("HTTP/1.1 408"))
    }

    @Test func aBodyThatNeverEndsGets408AfterTheRequestDeadline() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: .seconds(1), request: .seconds(3), keepAlive: Self.long))
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        // The head is complete, so the head deadline passes over to the request deadline.
        try client.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
        harness.awaitTimers(2)
        harness.advance(by: .seconds(2))
        #expect(client.isQuiet, "the head deadline answered a request whose head was complete")
        harness.advance(by: .seconds(1))
        #expect(String(decoding: try client.receiveUntilClosed(), as: UTF8.self).hasPrefix("HTTP/1.1 408"))
    }

    /// Moving the keep-alive deadline is a store: a busy connection holds one timer, not one per
    /// request (the heap used to grow by one entry a request until the deadline passed).
    @Test func aBusyConnectionHoldsOneTimer() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: Self.long, request: Self.long, keepAlive: Self.long))
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        for _ in 0..<200 {
            try client.send(Self.request)
            _ = try client.receive(through: "\r\n\r\n")
            _ = try client.receive(exactly: 3)
        }
        #expect(harness.timersPending() <= 2)
    }

    /// Timers hold their owner unowned, behind a TimerGuard: a deadline that fires after the
    /// connection and its handler are gone must do nothing, and the loop must go on serving.
    @Test func aDeadlineOutlivingItsConnectionIsHarmless() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: Self.long, request: Self.long, keepAlive: .seconds(5)))
        do {
            let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
            try client.send(Self.request)
            _ = try client.receive(through: "\r\n\r\n")
            _ = try client.receive(exactly: 3)
        }  // The client closes before its keep-alive deadline; the server's side follows.
        #expect(eventually(within: 30) { harness.openConnections() == 0 })
        harness.advance(by: .seconds(5))
        #expect(harness.timersPending() == 0)
        let next = try TestSocket(port: harness.port, timeoutSeconds: 30)
        try next.send(Self.request)
        #expect(try next.receive(through: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
    }
}
