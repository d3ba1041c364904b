// The SSE push encoding against the HTML standard's event-stream parser: EventSource gets back
// exactly the published bytes, whole or in any chunking of the stream.
@testable import Adapters
import Application
import Domain
import Testing
import TestSupport

/// The event-stream interpretation of the HTML standard (§9.2.6), fed in chunks: what an
/// `EventSource` dispatches. Lines end in CRLF, LF or CR; a CR at a chunk's end waits for its LF.
struct EventStreamReader {
    struct Event: Equatable {
        var type: String
        var data: String
    }

    private var line: [UInt8] = []
    private var afterCR = false
    private var type = ""
    private var data = ""
    private(set) var events: [Event] = []
    private(set) var retry: Int?
    private(set) var comments = 0

    mutating func feed(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            if byte == 0x0A || byte == 0x0D {
                afterCR = byte == 0x0D
                process(String(decoding: line, as: UTF8.self))
                line = []
            } else {
                line.append(byte)
            }
        }
    }

    private mutating func process(_ text: String) {
        if text.isEmpty {
            if !data.isEmpty {
                events.append(Event(type: type.isEmpty ? "message" : type, data: String(data.dropLast())))
            }
            (type, data) = ("", "")
            return
        }
        if text.hasPrefix(":") {
            comments += 1
            return
        }
        var field = text
        var value = ""
        if let colon = text.firstIndex(of: ":") {
            field = String(text[..<colon])
            value = String(text[text.index(after: colon)...])
            if value.hasPrefix(" ") { value.removeFirst() }
        }
        switch field {
        case "event": type = value
        case "data": data += value + "\n"
        case "retry": retry = Int(value)
        default: break
        }
    }
}

struct SSEPushEncoderTests {
    static let payloads = [
        #"null"#, #"42"#, #""héllo wörld ✓ 😀""#, #"{"a":"\u00e9 \"q\" back\\slash\n"}"#,
        "[1,\n 2,\n\n 3]", "{\n  \"a\": 1\n}\n", "\n\"leading\"", " \t{ } ",
    ]

    func frame(_ payload: String) -> [UInt8] {
        let event = PublishedEvent(topic: TopicName("t")!, payload: JSONPayload(validatedBytes: Array(payload.utf8)))
        return SSEPushEncoder().encode(event).copiedBytes
    }

    @Test(arguments: payloads)
    func eventSourceGetsThePublishedBytesBackUnderEveryChunking(_ payload: String) {
        let bytes = Array("retry: 3000\n\n".utf8) + frame(payload) + Array(": heartbeat\n\n".utf8) + frame(payload)
        for plan in ChunkPlans.all(length: bytes.count) {
            var reader = EventStreamReader()
            for chunk in plan.chunks(of: bytes) { reader.feed(chunk) }
            let expected = EventStreamReader.Event(type: "push", data: payload)
            #expect(reader.events == [expected, expected], "\(plan)")
            #expect(reader.retry == 3000)
            #expect(reader.comments == 1)
        }
    }

    @Test func eachLineOfThePayloadIsOneDataLine() {
        #expect(String(decoding: frame("[1,\n 2]"), as: UTF8.self) == "event: push\ndata: [1,\ndata:  2]\n\n")
        #expect(String(decoding: frame("{}"), as: UTF8.self) == "event: push\ndata: {}\n\n")
        #expect(String(decoding: frame("1\n"), as: UTF8.self) == "event: push\ndata: 1\ndata: \n\n")
    }

    @Test func carriageReturnsArriveAsLineFeedsBecauseSSECannotCarryThem() {
        #expect(String(decoding: frame("[1,\r\n2,\r3]"), as: UTF8.self) == "event: push\ndata: [1,\ndata: 2,\ndata: 3]\n\n")
        var reader = EventStreamReader()
        reader.feed(frame("[1,\r\n2]"))
        #expect(reader.events.map(\.data) == ["[1,\n2]"])
    }

    @Test func theAuthExpiredEventAndTheHeadAreWhatTheDocsSay() {
        let frames = SSEFrames(retry: .milliseconds(1500))
        var reader = EventStreamReader()
        reader.feed(frames.authExpired.copiedBytes)
        #expect(reader.events == [.init(type: "auth_expired", data: #"{"type":"error","code":"auth_expired","message":"token expired"}"#)])
        let head = String(decoding: frames.head(origin: "https://log.example.org").copiedBytes, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"))
        #expect(head.contains("\r\nAccess-Control-Allow-Origin: https://log.example.org\r\nVary: Origin\r\n"))
        #expect(head.hasSuffix("\r\n\r\nretry: 1500\n\n"))
        #expect(!String(decoding: frames.head(origin: nil).copiedBytes, as: UTF8.self).contains("Access-Control"))
    }
}
