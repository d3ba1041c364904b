// ReplicatedChannels' rules one at a time; the model test covers their interleavings.
import Domain
import Testing

struct ReplicatedChannelsTests {
    let key = ChannelKey(app: "1", channel: "presence-a")
    let now = MonotonicTime(nanoseconds: 5_000_000_000)

    func sends(_ actions: [ReplicatedChannels.Action]) -> [ReplicaMessage] {
        actions.compactMap { if case .send(let message) = $0 { message } else { nil } }
    }

    @Test func aDepartedNodeSaysNothingMoreButStillTellsItsOwnSockets() {
        var replica = ReplicatedChannels(localNode: "a")
        _ = replica.linkCameUp(now: now)
        _ = replica.join(key, userID: "u", info: [])
        #expect(sends(replica.depart()) == [.departed(node: "a")])
        #expect(sends(replica.depart()) == [])
        let left = replica.leave(key, userID: "u")
        #expect(sends(left) == [])
        #expect(left == [.announce(.removed(key, userID: "u"))])
        #expect(replica.tick(now: now.advanced(by: .seconds(60))) == [])
        #expect(sends(replica.receive(.heartbeat(node: "b", sequence: 3), now: now)) == [])
    }

    @Test func aNodeAloneAnnouncesItsOwnTransitionsAndCountsItsOwnSubscriptions() {
        var replica = ReplicatedChannels(localNode: "a")
        #expect(replica.join(key, userID: "u", info: Array("{}".utf8)).contains(.announce(.added(key, userID: "u", info: Array("{}".utf8)))))
        #expect(replica.join(key, userID: "u", info: []) == [])  // already held here
        #expect(replica.subscriptionsChanged(key, by: 2) == [.countChanged(key, total: 2)])
        #expect(replica.subscriptions(of: key) == 2 && replica.memberCount(of: key) == 1)
        #expect(replica.occupiedChannels(app: "1") == ["presence-a"])
    }

    @Test func onlyANodeAskingEveryoneIsANewcomer() {
        var replica = ReplicatedChannels(localNode: "a")
        #expect(replica.receive(.snapshotRequest(node: "b", of: nil), now: now) == [.newcomer("b")])
        #expect(replica.receive(.snapshotRequest(node: "b", of: "a"), now: now) == [])
        _ = replica.depart()
        #expect(replica.receive(.snapshotRequest(node: "c", of: nil), now: now) == [])
    }
}
