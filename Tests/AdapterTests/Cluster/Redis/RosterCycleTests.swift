// The roster heartbeat as a value: every transition and every event that changes nothing.
import Adapters
import Domain
import Testing

struct RosterCycleTests {
    let now = WallTime(seconds: 1_800_000_000)

    func entry(_ id: String, name: String, seenAgo: Duration) -> NodeEntry {
        NodeEntry(
            identity: NodeIdentity(id: id, name: name, version: "v", startedAt: now.advanced(by: .seconds(-3600))),
            seenAt: now.advanced(by: .zero - seenAgo), activeTopics: 0, connectedClients: 0, connectedSockets: 0)
    }

    /// A cycle brought to `state` through legal events.
    func cycle(in state: RosterCycle.State) -> RosterCycle {
        var cycle = RosterCycle()
        switch state {
        case .waitingForLink: break
        case .writing: _ = cycle.linkReady()
        case .reading(let prunes): _ = cycle.linkReady(); _ = cycle.written(ok: prunes)
        case .idle: _ = cycle.linkReady(); _ = cycle.written(ok: true); _ = cycle.read(nil, now: now)
        case .awaitingLinkToRemove: _ = cycle.stop()
        case .removing: _ = cycle.linkReady(); _ = cycle.stop()
        case .stopped: _ = cycle.stop(); _ = cycle.removed()
        }
        #expect(cycle.state == state)
        return cycle
    }

    @Test func aLinkThatComesUpIsWrittenToAtOnceThenReadThenIdle() {
        var cycle = RosterCycle()
        #expect(cycle.linkReady() == .write)
        #expect(cycle.written(ok: true) == .read)
        #expect(cycle.read([], now: now) == .publish(entries: [], stale: []))
        #expect(cycle.state == .idle)
        #expect(cycle.heartbeatDue() == .write)
        #expect(cycle.state == .writing)
    }

    @Test func aReadPublishesTheLiveEntriesAndNamesTheStaleOnes() {
        var cycle = cycle(in: .reading(prunes: true))
        let fresh = entry("new", name: "h", seenAgo: .seconds(1))
        let replaced = entry("old", name: "h", seenAgo: .seconds(30))
        let forgotten = entry("gone", name: "g", seenAgo: .seconds(3600))
        let dead = entry("dead", name: "d", seenAgo: .seconds(30))
        let action = cycle.read([("new", fresh), ("old", replaced), ("gone", forgotten), ("dead", dead)], now: now)
        #expect(action == .publish(entries: [fresh, dead], stale: ["old", "gone"]))
    }

    @Test func aFailedWriteStillReadsButPrunesNothingAndAFailedReadPublishesNothing() {
        var writing = cycle(in: .writing)
        #expect(writing.written(ok: false) == .read)
        #expect(writing.state == .reading(prunes: false))
        let old = entry("old", name: "h", seenAgo: .seconds(3600))
        #expect(writing.read([("old", old)], now: now) == .publish(entries: [old], stale: []))
        #expect(writing.state == .idle)
        var reading = cycle(in: .reading(prunes: true))
        #expect(reading.read(nil, now: now) == .none)
        #expect(reading.state == .idle)
    }

    @Test(arguments: [RosterCycle.State.idle, .writing, .reading(prunes: true), .reading(prunes: false)])
    func aLostLinkWaitsForTheNextAndIgnoresLateReplies(_ state: RosterCycle.State) {
        var cycle = cycle(in: state)
        #expect(cycle.linkLost() == .none)
        #expect(cycle.state == .waitingForLink)
        #expect(cycle.written(ok: false) == .none)
        #expect(cycle.read(nil, now: now) == .none)
        #expect(cycle.heartbeatDue() == .none)
        #expect(cycle.state == .waitingForLink)
        #expect(cycle.linkReady() == .write)
    }

    @Test func aHeartbeatWhileAWriteOrReadIsUnansweredSendsNothingMore() {
        for state in [RosterCycle.State.writing, .reading(prunes: true), .waitingForLink, .awaitingLinkToRemove, .removing, .stopped] {
            var cycle = cycle(in: state)
            #expect(cycle.heartbeatDue() == .none, "\(state)")
            #expect(cycle.state == state)
        }
    }

    @Test(arguments: [RosterCycle.State.idle, .writing, .reading(prunes: true)])
    func stoppingWithTheLinkUpRemovesTheOwnEntryThenFinishes(_ state: RosterCycle.State) {
        var cycle = cycle(in: state)
        #expect(cycle.stop() == .removeSelf)
        #expect(cycle.state == .removing)
        // Replies to what was in flight change nothing; the removal's answer ends the cycle.
        #expect(cycle.written(ok: true) == .none)
        #expect(cycle.read([], now: now) == .none)
        #expect(cycle.stop() == .none)
        #expect(cycle.removed() == .finish)
        #expect(cycle.state == .stopped)
        #expect(cycle.removed() == .none)
    }

    @Test func stoppingWithoutALinkWaitsForItToRemoveTheEntry() {
        var cycle = RosterCycle()
        #expect(cycle.stop() == .awaitLinkToRemove)
        #expect(cycle.state == .awaitingLinkToRemove)
        #expect(cycle.linkLost() == .none)
        #expect(cycle.heartbeatDue() == .none)
        #expect(cycle.stop() == .none)
        #expect(cycle.linkReady() == .removeSelf)
        #expect(cycle.state == .removing)
        #expect(cycle.removed() == .finish)
    }

    @Test func stoppingWithoutALinkFinishesAtTheRemovalsDeadline() {
        var cycle = RosterCycle()
        _ = cycle.stop()
        #expect(cycle.removed() == .finish)
        #expect(cycle.state == .stopped)
        #expect(cycle.linkReady() == .none)
        #expect(cycle.linkLost() == .none)
        #expect(cycle.stop() == .none)
    }

    @Test func losingTheLinkWhileRemovingFinishes() {
        var cycle = cycle(in: .removing)
        #expect(cycle.linkLost() == .finish)
        #expect(cycle.state == .stopped)
    }

    @Test func readyWhileAlreadyWritingIsIgnored() {
        for state in [RosterCycle.State.idle, .writing, .reading(prunes: true), .removing] {
            var cycle = cycle(in: state)
            #expect(cycle.linkReady() == .none, "\(state)")
            #expect(cycle.state == state)
        }
    }
}
