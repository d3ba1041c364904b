// The one table of plain-text answers: status, body and framing of each.
@testable import Adapters
import Testing

struct PlainAnswerTests {
    @Test(arguments: PlainAnswer.allCases)
    func eachAnswerIsItsStatusAndItsTextWithANewline(_ answer: PlainAnswer) {
        for keepAlive in [true, false] {
            let text = String(decoding: PlainAnswers.frame(answer, keepAlive: keepAlive).copiedBytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 \(answer.status.code) \(answer.status.reason)\r\nContent-Type: text/plain; charset=utf-8\r\n"))
            #expect(text.hasSuffix("\r\n\r\n\(answer.text)\n"))
            #expect(text.contains("Content-Length: \(answer.text.utf8.count + 1)\r\n"))
            #expect(text.contains("Connection: close\r\n") == !keepAlive)
        }
    }

    @Test func theProtocolsAnswersKeepTheirWording() {
        let expected: [(PlainAnswer, Int, String)] = [
            (.missingTopic, 400, "missing topic"), (.topicNotRegistered, 404, "topic not registered"), (.forbidden, 403, "forbidden"),
            (.methodNotAllowed, 405, "method not allowed"), (.payloadTooLarge, 413, "payload too large"),
            (.authRequired, 401, "auth required"), (.unauthorized, 401, "unauthorized"), (.shuttingDown, 503, "shutting down"),
        ]
        for (answer, status, text) in expected {
            #expect(answer.status.code == status)
            #expect(answer.text == text)
        }
        #expect(String(decoding: PlainAnswers.frame(.upgradeRequired, keepAlive: true).copiedBytes, as: UTF8.self).contains("Sec-WebSocket-Version: 13\r\n"))
    }
}
