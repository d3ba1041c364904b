// libFuzzer target: reading node roster entries (JSON with RFC 3339 times) that any node, or
// anyone with access to Redis, wrote. Any bytes must end in an entry or nil, never a crash;
// an entry that was read writes back to text that reads as the same entry.
import Adapters
import Domain
import FuzzSupport

runFuzzer { bytes in
    let input = Array(bytes)
    _ = RFC3339.parse(input)
    guard let entry = RosterEntryJSON.decode(input, key: "fuzz") else { return }
    let written = RosterEntryJSON.encode(NodeRoster.standing(of: entry, at: entry.seenAt))
    // Writing adds the missing fields and escapes more: past the size a reader takes, it is refused.
    guard written.utf8.count <= RosterEntryJSON.maxEntryBytes else { return }
    let reread = RosterEntryJSON.decode(Array(written.utf8), key: "fuzz")
    precondition(reread == entry, "an entry read from \(input) does not survive its own writing: \(written)")
}
