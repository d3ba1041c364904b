// Any header by name: read from the head as received, case-insensitively, under every chunking.
@testable import Adapters
import Testing
import TestSupport

struct HTTPFieldBlockTests {
    static let raw = "GET /sse?topic=t HTTP/1.1\r\nHost: h\r\nAUTHORIZATION:   Bearer abc.def  \r\nAccept: text/event-stream\r\n"
        + "X-Empty:\r\nAccept: second\r\nLast-Event-ID: 7\r\n\r\n"

    @Test func anyFieldIsReadByNameUnderEveryChunking() throws {
        let bytes = Array(Self.raw.utf8)
        for plan in ChunkPlans.all(length: bytes.count, randomCount: 50) {
            let request = try #require(decodeHTTP(bytes, plan: plan).requests.first, "\(plan)")
            let fields = request.head.headers.fields
            #expect(fields.value(of: "authorization") == "Bearer abc.def", "\(plan)")
            #expect(fields.value(of: "accept") == "text/event-stream", "the first of repeated fields")
            #expect(fields.value(of: "last-event-id") == "7")
            #expect(fields.value(of: "x-empty") == "")
            #expect(fields.value(of: "host") == "h")
            #expect(fields.value(of: "cookie") == nil)
            #expect(fields.value(of: "get /sse?topic=t http/1.1") == nil, "the request line is not a field")
        }
    }

    @Test func aLookupNeverMatchesAPrefixOrASuffix() throws {
        let bytes = Array("GET / HTTP/1.1\r\nX-Authorization: no\r\nAuthorization-X: no\r\n\r\n".utf8)
        let request = try #require(decodeHTTP(bytes, plan: .whole(bytes.count)).requests.first)
        #expect(request.head.headers.fields.value(of: "authorization") == nil)
    }

    @Test func theSSETokenComesFromBearerThenTheQuery() throws {
        func token(_ raw: String) throws -> String? {
            let bytes = Array(raw.utf8)
            return SSERoute.token(of: try #require(decodeHTTP(bytes, plan: .whole(bytes.count)).requests.first).head)
        }
        #expect(try token("GET /sse?topic=t&token=q HTTP/1.1\r\nAuthorization: bearer h\r\n\r\n") == "h")
        #expect(try token("GET /sse?topic=t&token=q%2Bx HTTP/1.1\r\n\r\n") == "q+x")
        #expect(try token("GET /sse?topic=t&token=q HTTP/1.1\r\nAuthorization: Basic Zm9v\r\n\r\n") == "q")
        #expect(try token("GET /sse?topic=t HTTP/1.1\r\n\r\n") == nil)
    }
}
