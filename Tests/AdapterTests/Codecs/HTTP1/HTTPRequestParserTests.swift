// The HTTP/1.1 parser: every fixture whole, byte by byte, in random chunkings, and pipelined.
import Adapters
import Testing
import TestSupport

/// What feeding a byte string produced.
struct HTTPDecodeOutcome: Equatable, CustomStringConvertible {
    var requests: [HTTPRequest] = []
    var continues = 0
    var error: HTTPParseError?
    var leftover = 0

    var description: String { "\(requests.count) requests, \(continues) continues, error \(String(describing: error)), leftover \(leftover)" }
}

/// Feeds `bytes` under `plan` the way HTTPServerHandler does: accumulate, parse, drop what was consumed.
func decodeHTTP(_ bytes: [UInt8], plan: ChunkPlan) -> HTTPDecodeOutcome {
    var parser = HTTPRequestParser()
    var pending: [UInt8] = []
    var outcome = HTTPDecodeOutcome()
    for chunk in plan.chunks(of: bytes) {
        pending += chunk
        parsing: while true {
            do {
                let event = try withGuardBytes(pending) { try parser.parse($0) }
                switch event {
                case .needMoreBytes: break parsing
                case .continueExpected: outcome.continues += 1
                case .request(let request, let consumed):
                    outcome.requests.append(request)
                    pending.removeFirst(consumed)
                }
            } catch let error as HTTPParseError {
                outcome.error = error
                return outcome
            } catch {
                Issue.record("unexpected \(error)")
                return outcome
            }
        }
    }
    outcome.leftover = pending.count
    return outcome
}

struct HTTPFixture: CustomTestStringConvertible, Sendable {
    let name: String
    let raw: String
    let method: HTTPMethod
    let target: String
    let body: String
    let keepAlive: Bool
    var continues = 0

    var testDescription: String { name }
    var bytes: [UInt8] { Array(raw.utf8) }
}

enum HTTPFixtures {
    static let valid: [HTTPFixture] = [
        HTTPFixture(name: "GET status", raw: "GET /internal/status HTTP/1.1\r\nHost: x\r\n\r\n", method: .get, target: "/internal/status", body: "", keepAlive: true),
        HTTPFixture(name: "POST with Content-Length", raw: "POST /internal/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 33\r\nX-Worker-Secret: s\r\n\r\n{\"topic\":\"t\",\"payload\":[1,2,3]}  ", method: .post, target: "/internal/publish", body: "{\"topic\":\"t\",\"payload\":[1,2,3]}  ", keepAlive: true),
        HTTPFixture(name: "chunked with extension and trailer", raw: "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n", method: .post, target: "/p", body: "hello, world", keepAlive: true),
        HTTPFixture(name: "chunked uppercase hex", raw: "POST /p HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", method: .post, target: "/p", body: "0123456789", keepAlive: true),
        HTTPFixture(name: "Connection close", raw: "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", method: .get, target: "/", body: "", keepAlive: false),
        HTTPFixture(name: "HTTP/1.0 closes by default", raw: "GET / HTTP/1.0\r\n\r\n", method: .get, target: "/", body: "", keepAlive: false),
        HTTPFixture(name: "HTTP/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", method: .get, target: "/", body: "", keepAlive: true),
        HTTPFixture(name: "bare LF line endings", raw: "GET /a HTTP/1.1\nHost: x\n\n", method: .get, target: "/a", body: "", keepAlive: true),
        HTTPFixture(name: "leading empty line", raw: "\r\nGET /a HTTP/1.1\r\n\r\n", method: .get, target: "/a", body: "", keepAlive: true),
        HTTPFixture(name: "absolute form", raw: "GET http://h:1/x?y=1 HTTP/1.1\r\n\r\n", method: .get, target: "/x?y=1", body: "", keepAlive: true),
        HTTPFixture(name: "expect continue", raw: "POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc", method: .post, target: "/p", body: "abc", keepAlive: true, continues: 1),
        HTTPFixture(name: "unknown method", raw: "BREW /pot HTTP/1.1\r\nContent-Length: 0\r\n\r\n", method: .other("BREW"), target: "/pot", body: "", keepAlive: true),
        HTTPFixture(name: "repeated equal Content-Length", raw: "POST /p HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", method: .post, target: "/p", body: "ok", keepAlive: true),
    ]

    static let invalid: [(String, String, HTTPParseError)] = [
        ("no version", "GET /\r\n\r\n", .badRequest("request line")),
        ("bad version", "GET / HTTP/x.1\r\n\r\n", .badRequest("version")),
        ("HTTP/2", "GET / HTTP/2.0\r\n\r\n", .versionNotSupported),
        ("relative target", "GET x HTTP/1.1\r\n\r\n", .badRequest("target")),
        ("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", .badRequest("header name")),
        ("folded header", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", .badRequest("obsolete line folding")),
        ("header without colon", "GET / HTTP/1.1\r\nnonsense\r\n\r\n", .badRequest("header line")),
        ("control byte in value", "GET / HTTP/1.1\r\nA: b\u{1}c\r\n\r\n", .badRequest("header value")),
        ("conflicting lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", .badRequest("conflicting content-length")),
        ("negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", .badRequest("content-length")),
        ("length and chunked", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", .badRequest("both Content-Length and Transfer-Encoding")),
        ("gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", .badRequest("transfer-encoding")),
        ("bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .badRequest("chunk size")),
        ("empty chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .badRequest("chunk size")),
        ("chunk longer than declared", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", .badRequest("chunk data longer than its size")),
        ("declared body over 1 MiB", "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", .payloadTooLarge),
        ("huge declared body", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", .payloadTooLarge),
        ("huge chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFF\r\n", .payloadTooLarge),
        ("chunk over the limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", .payloadTooLarge),
    ]
}

struct HTTPRequestParserTests {
    @Test(arguments: HTTPFixtures.valid)
    func parsesValidRequestsUnderEveryChunking(_ fixture: HTTPFixture) {
        for plan in ChunkPlans.all(length: fixture.bytes.count, randomCount: 50) {
            let outcome = decodeHTTP(fixture.bytes, plan: plan)
            #expect(outcome.error == nil, "\(plan)")
            #expect(outcome.requests.count == 1, "\(plan): \(outcome)")
            #expect(outcome.leftover == 0, "\(plan)")
            // A continue is asked for only while the body is still missing.
            #expect(outcome.continues <= fixture.continues, "\(plan)")
            guard let request = outcome.requests.first else { continue }
            #expect(request.head.method == fixture.method)
            #expect(request.head.target == fixture.target)
            #expect(String(decoding: request.body, as: UTF8.self) == fixture.body)
            #expect(request.head.keepAlive == fixture.keepAlive)
        }
    }

    @Test func pipelinedRequestsComeOutInOrderUnderEveryChunking() {
        let stream = HTTPFixtures.valid.flatMap(\.bytes)
        for plan in ChunkPlans.all(length: stream.count) {
            let outcome = decodeHTTP(stream, plan: plan)
            #expect(outcome.error == nil, "\(plan)")
            #expect(outcome.requests.map(\.head.target) == HTTPFixtures.valid.map(\.target), "\(plan)")
            #expect(outcome.requests.map { String(decoding: $0.body, as: UTF8.self) } == HTTPFixtures.valid.map(\.body), "\(plan)")
        }
    }

    @Test(arguments: HTTPFixtures.invalid.map { $0.0 })
    func refusesMalformedRequestsUnderEveryChunking(_ name: String) {
        let (_, raw, expected) = HTTPFixtures.invalid.first { $0.0 == name }!
        let bytes = Array(raw.utf8)
        for plan in ChunkPlans.all(length: bytes.count, randomCount: 30) {
            let outcome = decodeHTTP(bytes, plan: plan)
            #expect(outcome.error == expected, "\(plan): \(outcome)")
            #expect(outcome.requests.isEmpty)
        }
    }

    @Test func statusOfEachError() {
        #expect(HTTPParseError.badRequest("x").status.code == 400)
        #expect(HTTPParseError.payloadTooLarge.status.code == 413)
        #expect(HTTPParseError.headersTooLarge.status.code == 431)
        #expect(HTTPParseError.versionNotSupported.status.code == 505)
    }

    @Test func headOver16KiBIs431EvenWithoutTerminator() {
        let bytes = Array(("GET / HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 17_000)).utf8)
        #expect(decodeHTTP(bytes, plan: ChunkPlan(description: "whole", ends: [bytes.count])).error == .headersTooLarge)
        // And trickled: the limit is found without waiting for the end.
        let outcome = decodeHTTP(bytes, plan: ChunkPlans.all(length: bytes.count, randomCount: 0)[1])
        #expect(outcome.error == .headersTooLarge)
    }

    @Test func tooManyHeadersIs431() {
        let raw = "GET / HTTP/1.1\r\n" + (0...HTTPLimits.maxHeaderCount).map { "H\($0): v\r\n" }.joined() + "\r\n"
        let bytes = Array(raw.utf8)
        #expect(decodeHTTP(bytes, plan: ChunkPlan(description: "whole", ends: [bytes.count])).error == .headersTooLarge)
    }

    @Test func bodyLimitIsDecidedBeforeTheBodyArrives() throws {
        var parser = HTTPRequestParser()
        let head = Array("POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n".utf8)
        #expect(throws: HTTPParseError.payloadTooLarge) { try head.withUnsafeBytes { _ = try parser.parse($0) } }
    }

    @Test func bodyOfExactlyOneMiBIsAccepted() {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: HTTPLimits.maxBodyBytes)
        let bytes = Array("POST / HTTP/1.1\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        let outcome = decodeHTTP(bytes, plan: ChunkPlan(description: "64 KiB reads", ends: Array(stride(from: 65536, to: bytes.count, by: 65536)) + [bytes.count]))
        #expect(outcome.requests.first?.body.count == HTTPLimits.maxBodyBytes)
    }

    @Test func knownHeadersAreRead() throws {
        let raw = "GET /ws?topic=a%20b&x HTTP/1.1\r\nHOST: h\r\nupgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: k==\r\nSec-WebSocket-Version: 13\r\nOrigin: https://o\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\nX-Real-IP: 9.9.9.9\r\nX-Worker-Secret: s3\r\n\r\n"
        let bytes = Array(raw.utf8)
        let request = try #require(decodeHTTP(bytes, plan: ChunkPlan(description: "whole", ends: [bytes.count])).requests.first)
        let headers = request.head.headers
        #expect(headers.host == "h")
        #expect(headers.upgradeWebSocket)
        #expect(headers.connectionUpgrade && headers.connectionKeepAlive && !headers.connectionClose)
        #expect(headers.secWebSocketKey == "k==")
        #expect(headers.secWebSocketVersion == "13")
        #expect(headers.origin == "https://o")
        #expect(headers.forwardedFor == "1.2.3.4, 5.6.7.8")
        #expect(headers.realIP == "9.9.9.9")
        #expect(headers.workerSecret == Array("s3".utf8))
        #expect(request.head.path == "/ws")
        #expect(request.head.queryValue("topic") == "a b")
        #expect(request.head.queryValue("x") == "")
        #expect(request.head.queryValue("y") == nil)
    }

    @Test(arguments: [
        ("websocket", true), ("WebSocket", true), ("h2c, websocket", true), (" websocket ,h2c", true),
        ("websocketx", false), ("web socket", false), ("h2c", false), (",", false),
    ])
    func anUpgradeFieldNamesWebSocketAsOneOfItsTokens(value: String, expected: Bool) throws {
        let bytes = Array("GET /ws HTTP/1.1\r\nUpgrade: \(value)\r\n\r\n".utf8)
        let request = try #require(decodeHTTP(bytes, plan: ChunkPlan(description: "whole", ends: [bytes.count])).requests.first)
        #expect(request.head.headers.upgradeWebSocket == expected)
    }

    /// Path and query are split on the first `?` byte; matching is byte for byte.
    @Test(arguments: [
        ("/ws?topic=caf%C3%A9&x", "/ws", "topic=caf%C3%A9&x", "café"),
        ("/ws", "/ws", "", nil),
        ("/ws?", "/ws", "", nil),
        ("/w%C3%A9s?topic=a?b=c&topic=z", "/w%C3%A9s", "topic=a?b=c&topic=z", "a?b=c"),
        ("/ws?x=1&topic", "/ws", "x=1&topic", ""),
        ("/ws?=1&topic=%zz", "/ws", "=1&topic=%zz", nil),
        ("/ws?t%6Fpic=x", "/ws", "t%6Fpic=x", "x"),
        ("/ws?&&topic=a+b%2Bc&topic=z", "/ws", "&&topic=a+b%2Bc&topic=z", "a b+c"),
        ("/ws?top+ic=x&topics=y&topi=z", "/ws", "top+ic=x&topics=y&topi=z", nil),
        ("/ws?topic=%4", "/ws", "topic=%4", nil),
        ("/ws?topic=%C3", "/ws", "topic=%C3", nil),
        ("/ws?topic==a", "/ws", "topic==a", "=a"),
        ("/ws?to%zzpic=x&topic=y", "/ws", "to%zzpic=x&topic=y", "y"),
    ] as [(String, String, String, String?)])
    func pathAndQuerySplitOnTheFirstQuestionMark(target: String, path: String, query: String, topic: String?) {
        var parser = HTTPRequestParser()
        let bytes = Array("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n".utf8)
        guard case .request(let request, _)? = try? bytes.withUnsafeBytes({ try parser.parse($0) }) else {
            Issue.record("not parsed: \(target)")
            return
        }
        let head = request.head
        #expect(head.path == path)
        #expect(head.query == query)
        #expect(head.queryValue("topic") == topic)
        #expect(head.pathIs("/ws") == (path == "/ws"))
    }

    @Test func randomBytesNeverCrashAndAlwaysEndDefined() {
        var generator = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            let length = Int(generator.next() % 300)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if generator.next() % 2 == 0 { bytes = Array("POST / HTTP/1.1\r\n".utf8) + bytes }
            let outcome = decodeHTTP(bytes, plan: ChunkPlan(description: "whole", ends: [bytes.count]))
            #expect(outcome.leftover <= bytes.count)
        }
    }
}
