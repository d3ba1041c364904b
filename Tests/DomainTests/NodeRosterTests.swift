// The roster's rules: alive by seen_at alone, uptime, order, and which entries are pruned.
import Domain
import Testing

struct NodeRosterTests {
    let now = WallTime(seconds: 1_800_000_000, nanoseconds: 500_000_000)

    func entry(_ id: String, name: String, startedAgo: Duration = .seconds(3600), seenAgo: Duration = .zero) -> NodeEntry {
        let identity = NodeIdentity(id: id, name: name, version: "v", startedAt: now.advanced(by: .zero - startedAgo))
        return NodeEntry(identity: identity, seenAt: now.advanced(by: .zero - seenAgo), activeTopics: 1, connectedClients: 2, connectedSockets: 3)
    }

    @Test func anEntryIsAliveWhileItsLastWriteIsLessThanFifteenSecondsOld() {
        #expect(NodeRoster.standing(of: entry("a", name: "h", seenAgo: .milliseconds(14_999)), at: now).alive)
        #expect(!NodeRoster.standing(of: entry("a", name: "h", seenAgo: .seconds(15)), at: now).alive)
        // A writer whose clock runs ahead is alive, as Go's `now.Sub(seen) < 15s` says.
        #expect(NodeRoster.standing(of: entry("a", name: "h", seenAgo: .seconds(-30)), at: now).alive)
    }

    @Test func aliveNodesCountUptimeToNowAndDeadOnesToTheirLastWrite() {
        let alive = NodeRoster.standing(of: entry("a", name: "h", startedAgo: .seconds(12_125), seenAgo: .seconds(4)), at: now)
        #expect(alive.uptimeSeconds == 12_125)
        #expect(alive.uptime == "3h22m5s")
        let dead = NodeRoster.standing(of: entry("a", name: "h", startedAgo: .seconds(3600), seenAgo: .seconds(60)), at: now)
        #expect(dead.uptimeSeconds == 3540)
        #expect(dead.uptime == "59m0s")
    }

    @Test(arguments: [
        (2_499_999_999, 2), (2_500_000_000, 3), (2_500_000_001, 3), (-2_499_999_999, -2), (-2_500_000_000, -3), (0, 0),
    ] as [(Int64, Int64)])
    func uptimeRoundsHalfAwayFromZeroAsGoDoes(_ nanoseconds: Int64, _ seconds: Int64) {
        let started = now.advanced(by: .nanoseconds(-nanoseconds))
        let node = NodeEntry(
            identity: NodeIdentity(id: "a", name: "h", version: "v", startedAt: started), seenAt: now, activeTopics: 0,
            connectedClients: 0, connectedSockets: 0)
        #expect(NodeRoster.standing(of: node, at: now).uptimeSeconds == seconds)
    }

    @Test func standingsAreSortedByNameThenIdInByteOrder() {
        let entries = [entry("b2", name: "beta"), entry("z", name: "Zulu"), entry("b1", name: "beta"), entry("a", name: "äpfel"), entry("c", name: "alpha")]
        let order = NodeRoster.standings(of: RosterReading(entries: entries, readAt: now), at: now).map(\.entry.identity.id)
        // "Zulu" < "alpha" < "beta" < "äpfel": uppercase first, non-ASCII last, as Go compares bytes.
        #expect(order == ["z", "c", "b1", "b2", "a"])
    }

    @Test func aReadingIsJudgedAsOfWhenItWasReadAndItsUptimeCountedToNow() {
        let node = entry("a", name: "h", startedAgo: .seconds(100), seenAgo: .seconds(20))
        // Read 10 s after the entry's last write, reported 20 s after it: alive, as when read.
        let reading = RosterReading(entries: [node], readAt: now.advanced(by: .seconds(-10)))
        let standing = NodeRoster.standings(of: reading, at: now)[0]
        #expect(standing.alive && standing.uptimeSeconds == 100)
        // A reading stamped later than now (a stepped clock) is judged now.
        #expect(!NodeRoster.standing(of: node, at: now, judgedAt: now.advanced(by: .seconds(60))).alive)
        #expect(!NodeRoster.standings(of: RosterReading(entries: [node], readAt: now.advanced(by: .seconds(-5))), at: now)[0].alive)
    }

    @Test func anUptimeBeyondWhatGoCanHoldSaturatesAsGoSaysIt() {
        let ancient = NodeEntry(
            identity: NodeIdentity(id: "a", name: "h", version: "v", startedAt: WallTime(seconds: -62_135_596_800)), seenAt: now,
            activeTopics: 0, connectedClients: 0, connectedSockets: 0)
        let standing = NodeRoster.standing(of: ancient, at: now)
        #expect(standing.uptime == "2562047h47m16.854775807s" && standing.uptimeSeconds == 9_223_372_036)
    }

    @Test func deadEntriesSharingANameWithAnAliveOneArePruned() {
        let entries = [
            (key: "new", entry: entry("new", name: "host-1")),
            (key: "old", entry: entry("old", name: "host-1", seenAgo: .seconds(20))),
            (key: "other", entry: entry("other", name: "host-2", seenAgo: .seconds(20))),
        ]
        #expect(NodeRoster.stale(entries, at: now) == ["old"])
    }

    @Test func deadEntriesAreForgottenAfterFifteenMinutesAndNotBefore() {
        let entries = [
            (key: "recent", entry: entry("recent", name: "h1", seenAgo: .seconds(900))),
            (key: "old", entry: entry("old", name: "h2", seenAgo: .seconds(900) + .milliseconds(1))),
        ]
        #expect(NodeRoster.stale(entries, at: now) == ["old"])
    }

    @Test func aliveEntriesAreNeverPruned() {
        let entries = [(key: "a", entry: entry("a", name: "h")), (key: "b", entry: entry("b", name: "h", seenAgo: .seconds(14)))]
        #expect(NodeRoster.stale(entries, at: now).isEmpty)
    }

    @Test func pruningUsesTheStorageKey() {
        let entries = [(key: "field", entry: entry("id-in-json", name: "h", seenAgo: .seconds(1000)))]
        #expect(NodeRoster.stale(entries, at: now) == ["field"])
    }

    @Test func wallTimeArithmeticCarriesNanoseconds() {
        let time = WallTime(seconds: 10, nanoseconds: 900_000_000, utcOffsetSeconds: 3600)
        #expect(time.advanced(by: .milliseconds(200)) == WallTime(seconds: 11, nanoseconds: 100_000_000, utcOffsetSeconds: 3600))
        #expect(time.advanced(by: .milliseconds(-950)) == WallTime(seconds: 9, nanoseconds: 950_000_000, utcOffsetSeconds: 3600))
        #expect(time.advanced(by: .milliseconds(200)).duration(since: time) == .milliseconds(200))
        #expect(time.duration(since: time.advanced(by: .seconds(2))) == .seconds(-2))
        #expect(time.isSameInstant(as: WallTime(seconds: 10, nanoseconds: 900_000_000)))
    }
}
