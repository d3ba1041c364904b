// Who sends the cluster's webhook events, on a manual clock: the most senior node, a newcomer
// never, and the next one when the sender dies with events it may not have sent.
import Domain
import Testing

struct WebhookElectionTests {
    let start = MonotonicTime(nanoseconds: 1_000_000_000)
    let event = ScopedWebhookEvent(scope: "1", event: .channelVacated(channel: "c"))

    func at(_ seconds: Double) -> MonotonicTime { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    @Test func aSingleNodeWithoutClusterSendsEverything() {
        var election = WebhookElection(localNode: "a", clustered: false)
        #expect(election.offer(event, now: at(0)) == [event])
    }

    @Test func theMostSeniorSendsAfterSettlingAndReleasesWhatCameDueMeanwhile() {
        var a = WebhookElection(localNode: "a", clustered: true)
        // Before the link: held.
        #expect(a.offer(event, now: at(0)) == [])
        a.linkCameUp(now: at(1), wallMilliseconds: 1000)
        #expect(a.sender(now: at(2)) == nil)
        var released = a.tick(now: at(2))
        #expect(released == [])
        released = a.tick(now: at(4))
        #expect(released == [event])
        #expect(a.offer(event, now: at(5)) == [event])
        #expect(a.heldCount == 0)
    }

    @Test func aNewcomerNeverSendsWhatItLearnsFromAnOlderNode() {
        var b = WebhookElection(localNode: "a-newcomer-with-lower-id", clustered: true)
        b.linkCameUp(now: at(0), wallMilliseconds: 50_000)
        // It learns members that joined long ago while it settles.
        #expect(b.offer(event, now: at(0.1)) == [])
        b.acknowledged("z-old", linkedSince: 1_000, now: at(0.5))
        var released = b.tick(now: at(1))
        #expect(released == [])
        b.heard("z-old", now: at(5))
        released = b.tick(now: at(10))
        #expect(released == [])
        #expect(b.heldCount == 0)
        #expect(b.sender(now: at(10)) == "z-old")
    }

    @Test func whenTheSenderFallsSilentTheNextSendsWhatCameDueAfterItWasLastHeard() {
        var b = WebhookElection(localNode: "b", clustered: true)
        b.linkCameUp(now: at(0), wallMilliseconds: 2_000)
        b.acknowledged("a", linkedSince: 1_000, now: at(0))
        // An event due at 5 s: a heartbeat says a is alive, not that it sent it; its
        // acknowledgement a margin later does.
        #expect(b.offer(event, now: at(5)) == [])
        b.heard("a", now: at(6))
        #expect(b.heldCount == 1)
        b.acknowledged("a", linkedSince: 1_000, now: at(10))
        var released = b.tick(now: at(10))
        #expect(released == [])
        // a dies after 10 s: an event due at 12 s is held, then sent once a is stale.
        let late = ScopedWebhookEvent(scope: "1", event: .memberRemoved(channel: "presence-c", userID: "u"))
        #expect(b.offer(late, now: at(12)) == [])
        released = b.tick(now: at(17.9))
        #expect(released == [])
        released = b.tick(now: at(18.1))
        #expect(released == [late])
        #expect(b.expiredCount == 0)
        #expect(b.offer(event, now: at(19)) == [event])
    }

    @Test func aDepartedSenderIsReplacedAtOnce() {
        var b = WebhookElection(localNode: "b", clustered: true)
        b.linkCameUp(now: at(0), wallMilliseconds: 2_000)
        b.acknowledged("a", linkedSince: 1_000, now: at(0))
        #expect(b.offer(event, now: at(5)) == [])
        b.departed("a", now: at(5.2))
        let released = b.tick(now: at(5.5))
        #expect(released == [event])
    }

    @Test func aNodeThatLostItsLinkDropsWhatTheOthersDeriveAndComesBackJunior() {
        var a = WebhookElection(localNode: "a", clustered: true)
        a.linkCameUp(now: at(0), wallMilliseconds: 1_000)
        a.acknowledged("b", linkedSince: 2_000, now: at(0))
        #expect(a.offer(event, now: at(4)) == [event])
        a.linkWentDown(now: at(4.5))
        #expect(a.offer(event, now: at(5)) == [])
        a.acknowledged("b", linkedSince: 2_000, now: at(40))
        a.linkCameUp(now: at(40), wallMilliseconds: 40_000)
        let released = a.tick(now: at(44))
        #expect(released == [])
        #expect(a.sender(now: at(44)) == "b")
    }

    @Test func aNodeAloneWhenItLostItsLinkKeepsSending() {
        var a = WebhookElection(localNode: "a", clustered: true)
        a.linkCameUp(now: at(0), wallMilliseconds: 1_000)
        a.linkWentDown(now: at(4.5))
        #expect(a.offer(event, now: at(5)) == [event])
    }
}

extension WebhookElectionTests {
    @Test func whatCameDueWhileEveryLinkWasDownIsSentByTheNodeThatComesBackSenior() {
        // Redis restarts: a and b both lose it; a user leaves on a meanwhile.
        var a = WebhookElection(localNode: "a", clustered: true)
        a.linkCameUp(now: at(0), wallMilliseconds: 2_000)
        a.acknowledged("b", linkedSince: 1_000, now: at(9))
        a.linkWentDown(now: at(10))
        let leave = ScopedWebhookEvent(scope: "1", event: .memberRemoved(channel: "presence-c", userID: "u"))
        #expect(a.offer(leave, now: at(12)) == [])  // b still looks alive: presumed b
        // a is back first, so it is the senior now; b comes back later.
        a.linkCameUp(now: at(15), wallMilliseconds: 15_000)
        a.acknowledged("b", linkedSince: 16_000, now: at(16))
        var released = a.tick(now: at(16))
        #expect(released == [])  // settling
        released = a.tick(now: at(18.1))
        #expect(released == [leave])
    }

    @Test func aHeldEventNobodyCouldSendIsCounted() {
        var a = WebhookElection(localNode: "a", clustered: true)
        #expect(a.offer(event, now: at(0)) == [])
        let released = a.tick(now: at(31))
        #expect(released == [])
        #expect(a.heldCount == 0 && a.expiredCount == 1)
    }
}

extension WebhookElectionTests {
    @Test func theSenderAcknowledgesEveryTickWhileSendingThenEveryFiveSeconds() {
        var a = WebhookElection(localNode: "a", clustered: true)
        #expect(a.seniorityDue(now: at(0)) == nil)  // no link: nothing to say
        a.linkCameUp(now: at(0), wallMilliseconds: 1_000)
        var said: [Double] = []
        for tick in 1...20 {
            if tick == 4 { #expect(a.offer(event, now: at(4)) == [event]) }
            if a.seniorityDue(now: at(Double(tick))) != nil { said.append(Double(tick)) }
        }
        // At once after the link came up; each tick from the event until 5 s after it; then
        // at the interval again.
        #expect(said == [1, 4, 5, 6, 7, 8, 9, 10, 15, 20])
    }
}
