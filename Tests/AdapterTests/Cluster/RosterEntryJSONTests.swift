// Roster entries as upstream Go 0.3.0 nodes write and read them.
import Adapters
import Domain
import Testing

struct RosterEntryJSONTests {
    // What json.Marshal(NodeInfo) gives on a Go 0.3.0 node (fields in struct order).
    let goEntry = """
        {"id":"4f1c2a9be07d3c11","name":"wl-worker-1","version":"v0.3.0","started_at":"2026-12-07T04:00:00.123456789Z",\
        "seen_at":"2026-12-07T05:10:00.5+01:00","active_topics":3,"connected_clients":5,"connected_sockets":6,"alive":true,\
        "uptime":"10m0s","uptime_seconds":600}
        """

    @Test func readsAnEntryAGoNodeWrote() throws {
        let entry = try #require(RosterEntryJSON.decode(Array(goEntry.utf8), key: "4f1c2a9be07d3c11"))
        #expect(entry.identity.id == "4f1c2a9be07d3c11")
        #expect(entry.identity.name == "wl-worker-1")
        #expect(entry.identity.version == "v0.3.0")
        #expect(entry.identity.startedAt == WallTime(seconds: 1_796_616_000, nanoseconds: 123_456_789))
        #expect(entry.seenAt == WallTime(seconds: 1_796_616_600, nanoseconds: 500_000_000, utcOffsetSeconds: 3600))
        #expect((entry.activeTopics, entry.connectedClients, entry.connectedSockets) == (3, 5, 6))
    }

    @Test func writesTheSameBytesAGoNodeWould() throws {
        let entry = try #require(RosterEntryJSON.decode(Array(goEntry.utf8), key: "x"))
        // A Go node computes alive and uptime at the moment of its write.
        #expect(RosterEntryJSON.encode(NodeRoster.standing(of: entry, at: entry.seenAt)) == goEntry)
    }

    @Test func anEntryWrittenHereReadsBackTheSame() throws {
        let identity = NodeIdentity(id: "0123456789abcdef", name: "host \"quoted\" \u{1}", version: "1.2.3", startedAt: WallTime(seconds: 1_796_616_000, nanoseconds: 1))
        let entry = NodeEntry(identity: identity, seenAt: WallTime(seconds: 1_796_616_837, nanoseconds: 120_000_000), activeTopics: 7, connectedClients: 8, connectedSockets: 9)
        let text = RosterEntryJSON.encode(NodeRoster.standing(of: entry, at: entry.seenAt))
        #expect(text == #"{"id":"0123456789abcdef","name":"host \"quoted\" \u0001","version":"1.2.3","started_at":"2026-12-07T04:00:00.000000001Z","seen_at":"2026-12-07T04:13:57.12Z","active_topics":7,"connected_clients":8,"connected_sockets":9,"alive":true,"uptime":"13m57s","uptime_seconds":837}"#)
        #expect(RosterEntryJSON.decode(Array(text.utf8), key: "other") == entry)
    }

    @Test func anUnnamedEntryWritesItsEmptyNameBack() throws {
        let entry = try #require(RosterEntryJSON.decode(Array(#"{"id":"x","name":"","seen_at":"2026-12-07T04:10:00Z"}"#.utf8), key: "x"))
        #expect(RosterEntryJSON.encode(NodeRoster.standing(of: entry, at: entry.seenAt)).hasPrefix(#"{"id":"x","name":"","#))
    }

    @Test func missingFieldsReadAsGoZeroValuesAndAMissingIdAsTheKey() throws {
        let entry = try #require(RosterEntryJSON.decode(Array(#"{"seen_at":"2026-12-07T04:10:00Z","extra":[1,2]}"#.utf8), key: "field-id"))
        #expect(entry.identity.id == "field-id")
        #expect(entry.identity.name == "")  // as Go keeps it
        #expect(entry.identity.startedAt == WallTime(seconds: -62_135_596_800))
        #expect(entry.activeTopics == 0)
        let empty = try #require(RosterEntryJSON.decode(Array("{}".utf8), key: "k"))
        #expect(empty.seenAt == WallTime(seconds: -62_135_596_800))
    }

    @Test(arguments: [
        "", "not json", "[]", "null", #"{"id":7}"#, #"{"name":true}"#, #"{"seen_at":"yesterday"}"#, #"{"started_at":12}"#,
        #"{"active_topics":"3"}"#, #"{"connected_clients":1.5}"#, #"{"connected_sockets":99999999999999999999}"#, #"{"id":"a""#,
        #"{"alive":"yes"}"#, #"{"uptime":5}"#, #"{"uptime_seconds":"5"}"#,
    ])
    func malformedEntriesAreSkipped(_ text: String) {
        #expect(RosterEntryJSON.decode(Array(text.utf8), key: "k") == nil)
    }

    @Test func anOversizedEntryIsSkippedUnread() {
        let padding = String(repeating: "x", count: RosterEntryJSON.maxEntryBytes)
        #expect(RosterEntryJSON.decode(Array(#"{"name":"\#(padding)"}"#.utf8), key: "k") == nil)
    }
}
