// TLS over real loopback sockets with a real OpenSSL client, on a manual clock: a handshake
// that never finishes is closed at its deadline, one that finished is not.
@testable import Adapters
import COpenSSL
import Foundation
import Glibc
import Logging
import Testing
import TestSupport

final class TLSHarness {
    let group: EventLoopGroup
    let listener: Listener
    let clock = ManualClock()
    var port: Int { listener.address.port }
    static let deadline: Duration = .seconds(10)

    init() throws {
        var settings = TLSSettings(certificateFile: TestPaths.fixture("tls/cert.pem").path, keyFile: TestPaths.fixture("tls/key.pem").path)
        settings.handshakeTimeout = Self.deadline
        group = try EventLoopGroup(count: 1, poller: .epoll, manualTime: clock)
        let long: Duration = .seconds(3600)
        listener = try Listener(
            address: SocketAddress(host: "127.0.0.1", port: 0)!, key: "test", loop: group.loops[0],
            transport: HTTPTransport(responder: OKResponder(), timeouts: HTTPTimeouts(head: long, request: long, keepAlive: long)),
            budget: ConnectionBudget(limit: 100), queueLimits: (100_000, 1 << 30),
            tls: try TLSServer(settings, key: "tls_cert_file"), logger: Logger(label: "test"))
        group.start()
    }

    deinit { group.stopAndJoin() }

    func advance(by duration: Duration) {
        #expect(clock.advance(by: duration, running: group.loops))
    }

    /// Returns once the loop holds the new connection's deadlines, set by the loop's time.
    func awaitConnection() {
        #expect(eventually(within: 30) { self.group.loops[0].runAndWait { $0.registeredCount } == 2 })
    }

    func failures() -> [String: Int] { group.loops[0].runAndWait { $0.metrics.tlsHandshakeFailures } }
    func handshakes() -> Int { group.loops[0].runAndWait { $0.metrics.tlsHandshakes } }
}

/// A blocking OpenSSL client on a test socket, verifying the fixture certificate.
final class TLSTestClient {
    let context: OpaquePointer
    let ssl: OpaquePointer

    init(_ socket: TestSocket) throws {
        context = SSL_CTX_new(TLS_client_method())
        SSL_CTX_load_verify_locations(context, TestPaths.fixture("tls/cert.pem").path, nil)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        ssl = SSL_new(context)
        SSL_set1_host(ssl, "localhost")
        SSL_set_fd(ssl, socket.descriptor)
        let result = Self.retryingInterrupts(ssl) { SSL_connect($0) }
        guard result == 1 else {
            let code = SSL_get_error(ssl, result)
            throw TLSLoadError(culprit: .openssl, description: "SSL_connect: error \(code), errno \(errno), \(TLSCredentials.lastError())")
        }
    }

    /// Runs a blocking OpenSSL call again when a signal interrupted its read or write: a test
    /// thread can get one (the task-work notice of an io_uring ring it once drove, or the
    /// sanitizers' own), and OpenSSL then reports a retry, not a failure.
    static func retryingInterrupts(_ ssl: OpaquePointer, _ call: (OpaquePointer) -> Int32) -> Int32 {
        while true {
            let result = call(ssl)
            guard result <= 0 else { return result }
            let code = SSL_get_error(ssl, result)
            let interrupted = code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE || (code == SSL_ERROR_SYSCALL && errno == EINTR)
            guard interrupted else { return result }
        }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Sends `request` and reads until `marker` has arrived.
    func exchange(_ request: String, through marker: String) -> String {
        _ = Array(request.utf8).withUnsafeBytes { bytes in Self.retryingInterrupts(ssl) { SSL_write($0, bytes.baseAddress, Int32(bytes.count)) } }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: answer, as: UTF8.self).contains(marker) {
            let count = buffer.withUnsafeMutableBytes { bytes in Self.retryingInterrupts(ssl) { SSL_read($0, bytes.baseAddress, Int32(bytes.count)) } }
            guard count > 0 else { break }
            answer += buffer[0..<Int(count)]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}

struct TLSHandshakeTests {
    @Test func aHandshakeThatNeverBeginsIsClosedAtTheDeadline() throws {
        let harness = try TLSHarness()
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        harness.awaitConnection()
        harness.advance(by: TLSHarness.deadline - .milliseconds(1))
        #expect(client.isQuiet, "closed before the handshake deadline")
        harness.advance(by: .milliseconds(1))
        #expect(try client.receiveUntilClosed().isEmpty)
        #expect(harness.failures() == ["timeout": 1])
    }

    @Test func aHandshakeHalfSentIsClosedAtTheDeadlineToo() throws {
        let harness = try TLSHarness()
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        // A ClientHello's record header and the first bytes of its body.
        try client.send([0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFC, 0x03, 0x03])
        harness.awaitConnection()
        harness.advance(by: TLSHarness.deadline)
        #expect(try client.receiveUntilClosed().isEmpty)
        #expect(harness.failures() == ["timeout": 1])
    }

    @Test func aFinishedHandshakeOutlivesTheDeadline() throws {
        let harness = try TLSHarness()
        let socket = try TestSocket(port: harness.port, timeoutSeconds: 30)
        let client = try TLSTestClient(socket)
        #expect(client.exchange("GET /x HTTP/1.1\r\nHost: h\r\n\r\n", through: "ok").hasPrefix("HTTP/1.1 200"))
        harness.advance(by: TLSHarness.deadline * 2)
        #expect(client.exchange("GET /y HTTP/1.1\r\nHost: h\r\n\r\n", through: "ok").hasPrefix("HTTP/1.1 200"))
        #expect(harness.handshakes() == 1)
        #expect(harness.failures().isEmpty)
    }

    @Test func garbageIsAnsweredWithAnAlertAndClosedAtOnce() throws {
        let harness = try TLSHarness()
        let client = try TestSocket(port: harness.port, timeoutSeconds: 30)
        try client.send([0x16, 0x03, 0x01, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF])
        let answer = try client.receiveUntilClosed()
        #expect(answer.first == 0x15, "a TLS alert record")
        #expect(harness.failures() == ["protocol": 1])
    }
}
