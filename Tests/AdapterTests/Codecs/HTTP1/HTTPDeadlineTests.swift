// The HTTP server's deadlines over real sockets, with short timeouts: an idle keep-alive
// connection closes, a slow head or body gets 408, and a busy connection keeps one timer.
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
    var port: Int { listener.address.port }

    init(_ timeouts: HTTPTimeouts) throws {
        group = try EventLoopGroup(count: 1, poller: .epoll)
        listener = try Listener(
            address: SocketAddress(host: "127.0.0.1", port: 0)!, key: "test", loop: group.loops[0],
            transport: HTTPTransport(responder: OKResponder(), timeouts: timeouts),
            budget: ConnectionBudget(limit: 100), queueLimits: (100_000, 1 << 30), logger: Logger(label: "test"))
        group.start()
    }

    deinit { group.stopAndJoin() }

    func timersPending() -> Int {
        let count = Mutex<Int>(-1)
        let done = DispatchSemaphore(value: 0)
        group.loops[0].execute { loop in
            count.withLock { $0 = loop.pendingTimerCount }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        return count.withLock { $0 }
    }
}

struct HTTPDeadlineTests {
    static let request = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    // Long enough that a request/response round trip never meets them, however slow the machine.
    static let long: Duration = .seconds(60)

    @Test func anIdleKeepAliveConnectionIsClosed() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: Self.long, request: Self.long, keepAlive: .milliseconds(200)))
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        try client.send(Self.request)
        #expect(try client.receive(through: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        _ = try client.receive(exactly: 3)  // "ok\n"
        #expect(try client.receiveUntilClosed().isEmpty)
    }

    @Test func aHeadThatNeverEndsGets408() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: .milliseconds(200), request: Self.long, keepAlive: Self.long))
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        try client.send("GET /x HTTP/1.1\r\nHost: h\r\n")
        #expect(String(decoding: try client.receiveUntilClosed(), as: UTF8.self).hasPrefix("HTTP/1.1 408"))
    }

    @Test func aBodyThatNeverEndsGets408AfterTheRequestDeadline() throws {
        let harness = try HTTPHarness(HTTPTimeouts(head: .milliseconds(100), request: .milliseconds(300), keepAlive: Self.long))
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        // The head is complete, so the head deadline passes over to the request deadline.
        try client.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
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
        let harness = try HTTPHarness(HTTPTimeouts(head: Self.long, request: Self.long, keepAlive: .milliseconds(100)))
        do {
            let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
            try client.send(Self.request)
            _ = try client.receive(through: "\r\n\r\n")
            _ = try client.receive(exactly: 3)
        }  // The client closes before its keep-alive deadline; the server's side follows.
        #expect(eventually(within: 30) { harness.timersPending() == 0 })
        let next = try TestSocket(port: harness.port, timeoutSeconds: 30)
        try next.send(Self.request)
        #expect(try next.receive(through: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
    }
}
