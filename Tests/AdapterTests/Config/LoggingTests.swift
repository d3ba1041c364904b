// Log lines: logfmt and JSON rendering, and sanitising of client text.
import Adapters
import Logging
import Testing

struct LoggingTests {
    @Test func logfmtQuotesAndSanitises() {
        let line = LineLogHandler.render(
            timestamp: "T", level: .info, message: "client unauthorized",
            metadata: ["topic": "a b", "ip": "1.2.3.4", "evil": "x\ny=\"z\""], format: .logfmt)
        #expect(line == #"ts=T level=info msg="client unauthorized" evil="x\x0ay=\"z\"" ip=1.2.3.4 topic="a b""#)
    }

    @Test func jsonEscapes() {
        let line = LineLogHandler.render(timestamp: "T", level: .warning, message: "m\"", metadata: ["k": "v\n"], format: .json)
        #expect(line == #"{"ts":"T","level":"warning","msg":"m\"","k":"v\u000a"}"#)
    }

    @Test func sanitiseBoundsLength() {
        #expect(Sanitize.forLog(String(repeating: "a", count: 1000)).count == Sanitize.maxLength + 1)
        #expect(Sanitize.forLog("\u{2028}") == "\\x2028")
    }
}
