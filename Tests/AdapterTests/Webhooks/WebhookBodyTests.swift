// The webhook body in Pusher's format, and how an answer is classed.
@testable import Adapters
import Domain
import Testing

struct WebhookBodyTests {
    @Test func everyEventInPushersShape() {
        let body = WebhookBody.encode([
            .channelOccupied(channel: "presence-\"q\""),
            .memberRemoved(channel: "presence-a", userID: "42"),
            .clientEvent(channel: "private-c", event: "client-x", data: #"{"a":1}"#, socketID: "1.2", userID: nil),
            .clientEvent(channel: "presence-c", event: "client-y", data: "text", socketID: "3.4", userID: "u"),
            .subscriptionCount(channel: "news", count: 101),
            .topicVacated(topic: "radio.1"),
        ], timeMilliseconds: 1_765_000_000_123)
        #expect(String(decoding: body, as: UTF8.self) == #"{"time_ms":1765000000123,"events":["#
            + #"{"name":"channel_occupied","channel":"presence-\"q\""},"#
            + #"{"name":"member_removed","channel":"presence-a","user_id":"42"},"#
            + #"{"name":"client_event","channel":"private-c","event":"client-x","data":"{\"a\":1}","socket_id":"1.2"},"#
            + #"{"name":"client_event","channel":"presence-c","event":"client-y","data":"text","socket_id":"3.4","user_id":"u"},"#
            + #"{"name":"subscription_count","channel":"news","subscription_count":101},"#
            + #"{"name":"topic_vacated","topic":"radio.1"}]}"#)
    }

    @Test func aClientEventsDataIsAStringAsPusherSendsIt() {
        #expect(WebhookText.clientData(Array(#"{"line": 3}"#.utf8)) == #"{"line": 3}"#)
        #expect(WebhookText.clientData(Array(#""a \"quoted\" \u00e9""#.utf8)) == "a \"quoted\" é")
        #expect(WebhookText.clientData(Array("12".utf8)) == "12")
    }

    @Test func answersAreClassedAsTheQueueRetriesThem() {
        #expect(CurlPoster.classify(status: 200) == .accepted)
        #expect(CurlPoster.classify(status: 204) == .accepted)
        #expect(CurlPoster.classify(status: 408) == .retry(reason: "status_408"))
        #expect(CurlPoster.classify(status: 429) == .retry(reason: "status_429"))
        #expect(CurlPoster.classify(status: 503) == .retry(reason: "status_5xx"))
        #expect(CurlPoster.classify(status: 404) == .rejected(reason: "status_4xx"))
        #expect(CurlPoster.classify(status: 301) == .rejected(reason: "status_3xx"))
    }
}
