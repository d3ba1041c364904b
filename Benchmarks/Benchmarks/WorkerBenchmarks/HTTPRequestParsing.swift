// HTTP parsing: one publish request as PHP's curl sends it.
import Adapters
import Benchmark

/// curl's own headers (Host, Accept) around the two the backend sets, in the order curl writes them.
func curlPublishRequest(body: [UInt8], secret: String) -> [UInt8] {
    let head = "POST /internal/publish HTTP/1.1\r\n"
        + "Host: 127.0.0.1:9001\r\n"
        + "Accept: */*\r\n"
        + "X-Worker-Secret: \(secret)\r\n"
        + "Content-Type: application/json\r\n"
        + "Content-Length: \(body.count)\r\n"
        + "\r\n"
    return Array(head.utf8) + body
}

/// True when `raw` parses, in one call, into the whole request with its body and secret.
private func parsesWhole(_ raw: [UInt8], body: [UInt8]) -> Bool {
    var parser = HTTPRequestParser()
    guard case .request(let request, let consumed)? = try? raw.withUnsafeBytes({ try parser.parse($0) }) else { return false }
    return consumed == raw.count && request.body == body && request.head.headers.workerSecret != nil
}

func registerHTTPParsingBenchmarks() {
    let raw = curlPublishRequest(body: Fixtures.publishBody, secret: Fixtures.secretText)
    requireFixture(parsesWhole(raw, body: Fixtures.publishBody), "the curl request does not parse whole")

    Benchmark("HTTP: parse curl publish request") { benchmark in
        for _ in benchmark.scaledIterations {
            // A fresh parser each time: PHP's curl opens a connection per publish
            // (docs/protocol.md "Listeners").
            var parser = HTTPRequestParser()
            blackHole(try raw.withUnsafeBytes { try parser.parse($0) })
        }
    }
}
