// The messages nodes exchange about their channels: exact bytes, round trips, and refusals.
import Adapters
import Domain
import Testing

struct ReplicaMessageJSONTests {
    static let key = ChannelKey(app: "1001", channel: "presence-x")
    static let messages: [ReplicaMessage] = [
        .joined(node: "a1", sequence: 3, key: key, userID: "42", info: Array(#"{"name": "Ann \u00e9"}"#.utf8)),
        .joined(node: "a1", sequence: 4, key: key, userID: "quote\"d", info: []),
        .left(node: "a1", sequence: 5, key: key, userID: "42"),
        .counts(node: "a1", sequence: 6, [key: 2, ChannelKey(app: "1001", channel: "news"): 0]),
        .snapshot(node: "a1", sequence: 6, NodeChannels(
            members: [key: ["42": Array("[1,2]".utf8), "7": []], ChannelKey(app: "2", channel: "presence-y"): ["x": Array("{}".utf8)]],
            subscriptions: [key: 2])),
        .snapshot(node: "a1", sequence: 0, NodeChannels()),
        .heartbeat(node: "a1", sequence: 9),
        .snapshotRequest(node: "b2", of: "a1"),
        .snapshotRequest(node: "b2", of: nil),
        .departed(node: "a1"),
        .seniority(node: "a1", linkedSince: 1_765_000_000_123),
        .terminate(node: "a1", app: "1001", userID: "42"),
        .cached(node: "a1", key: ChannelKey(app: "1001", channel: "cache-x"), event: CachedEvent(
            message: Array(#"{"event":"e","channel":"cache-x","data":"d"}"#.utf8), publishedAt: 1_800_000_000_000, expiresAt: 1_800_001_800_000,
            origin: "a1")),
        .caches(node: "b2", [
            ChannelKey(app: "1001", channel: "cache-x"): CachedEvent(message: Array("{}".utf8), publishedAt: 1, expiresAt: 2, origin: "a1"),
            ChannelKey(app: "2", channel: "private-cache-y"): CachedEvent(message: Array(#"{"a":[1]}"#.utf8), publishedAt: 3, expiresAt: 4, origin: "b2"),
        ]),
        .caches(node: "b2", [:]),
    ]

    @Test func everyMessageReadsBackAsWritten() {
        for message in Self.messages {
            #expect(ReplicaMessageJSON.decode(ReplicaMessageJSON.encode(message)) == message, "\(message)")
        }
    }

    @Test func theBytesAreCompactAndSorted() {
        #expect(String(decoding: ReplicaMessageJSON.encode(Self.messages[0]), as: UTF8.self)
            == #"{"type":"joined","node":"a1","seq":3,"app":"1001","channel":"presence-x","user_id":"42","user_info":{"name": "Ann \u00e9"}}"#)
        #expect(String(decoding: ReplicaMessageJSON.encode(Self.messages[4]), as: UTF8.self)
            == #"{"type":"snapshot","node":"a1","seq":6,"counts":[["1001","presence-x",2]],"members":[["1001","presence-x","42",[1,2]],"#
            + #"["1001","presence-x","7",null],["2","presence-y","x",{}]]}"#)
        #expect(String(decoding: ReplicaMessageJSON.encode(.snapshotRequest(node: "b2", of: nil)), as: UTF8.self)
            == #"{"type":"snapshot_request","node":"b2"}"#)
    }

    @Test(arguments: [
        "", "[]", "{}", #"{"type":"joined"}"#, #"{"type":"heartbeat","node":"a"}"#, #"{"type":"heartbeat","node":"","seq":1}"#,
        #"{"type":"heartbeat","node":"a","seq":-1}"#, #"{"type":"heartbeat","node":"a","seq":1.5}"#,
        #"{"type":"heartbeat","node":"a","seq":"1"}"#, #"{"type":"newer","node":"a","seq":1}"#,
        #"{"type":"joined","node":"a","seq":1,"app":"1","channel":"c","user_id":"u"}"#,
        #"{"type":"counts","node":"a","seq":1,"counts":[["1","c",-1]]}"#, #"{"type":"counts","node":"a","seq":1,"counts":[["1","c"]]}"#,
        #"{"type":"counts","node":"a","seq":1,"counts":{"1":{"c":1}}}"#, #"{"type":"snapshot","node":"a","seq":1,"counts":[]}"#,
        #"{"type":"snapshot","node":"a","seq":1,"counts":[],"members":[["1","c",7,null]]}"#,
        #"{"type":"snapshot_request","node":"a","of":7}"#, #"{"type":"terminate","node":"a","app":"1"}"#,
        #"{"type":"heartbeat","node":"a","seq":1"#,
    ])
    func malformedOrUnknownMessagesAreRefused(_ text: String) {
        #expect(ReplicaMessageJSON.decode(Array(text.utf8)) == nil)
    }

    @Test func aMessageOverTheLimitIsRefusedUnread() {
        let padding = String(repeating: " ", count: ReplicaMessageJSON.maxMessageBytes)
        #expect(ReplicaMessageJSON.decode(Array((#"{"type":"departed","node":"a"}"# + padding).utf8)) == nil)
        #expect(ReplicaMessageJSON.decode(Array(#"{"type":"departed","node":"a"}"#.utf8)) == .departed(node: "a"))
    }
}

struct ReplicaMessageEchoTests {
    @Test func aNodeKnowsItsOwnMessagesByTheirHeadAndNoOneElses() {
        for message in ReplicaMessageJSONTests.messages {
            let bytes = ReplicaMessageJSON.encode(message)
            #expect(ReplicaMessageJSON.isSent(by: message.node, bytes), "\(message)")
            #expect(!ReplicaMessageJSON.isSent(by: "a", bytes))
            #expect(!ReplicaMessageJSON.isSent(by: message.node + "0", bytes))
            #expect(!ReplicaMessageJSON.isSent(by: String(message.node.dropLast()), bytes))
        }
        // A user id that looks like a node field, further in, is not the sender.
        let sly = ReplicaMessage.left(node: "b", sequence: 1, key: ChannelKey(app: "1", channel: "c"), userID: #"x","node":"a""#)
        #expect(!ReplicaMessageJSON.isSent(by: "a", ReplicaMessageJSON.encode(sly)))
    }
}

struct ReplicaMessageDepthTests {
    @Test func aSnapshotCarriesUserInfoAsDeepAsAClientMayNestIt() {
        // channel_data is read 8 levels deep, so user_info may nest 7; a snapshot holds it 3 down.
        let info = Array(#"{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}"#.utf8)
        let snapshot = ReplicaMessage.snapshot(node: "n", sequence: 1, NodeChannels(members: [ChannelKey(app: "1", channel: "presence-x"): ["u": info]]))
        #expect(ReplicaMessageJSON.decode(ReplicaMessageJSON.encode(snapshot)) == snapshot)
    }
}
