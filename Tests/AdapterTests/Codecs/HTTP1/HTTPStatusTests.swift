// One table of reason phrases, which every answer (the Pusher API's too) takes its phrase from.
@testable import Adapters
import Testing

struct HTTPStatusTests {
    @Test(arguments: [(200, "OK"), (400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"), (413, "Payload Too Large"), (503, "Service Unavailable")])
    func aCodeTakesItsPhraseFromTheTable(_ code: Int, _ reason: String) {
        #expect(HTTPStatus(code: code).reason == reason)
    }

    @Test func everyPlainAnswerAndEveryPusherAPIErrorHasAPhrase() {
        for answer in PlainAnswer.allCases { #expect(HTTPStatus.known[answer.status.code] == answer.status) }
        for code in [400, 401, 403, 404, 405, 413] { #expect(HTTPStatus.known[code] != nil, "\(code)") }
        let frame = PusherAPIRoute.json(413, "{}", keepAlive: true)
        #expect(frame.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
    }
}
