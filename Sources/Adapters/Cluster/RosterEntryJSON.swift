// A node roster entry's JSON, field for field as the upstream Go worker writes and reads it.
public import Domain

/// Encodes and decodes roster entries: `{"id","name","version","started_at","seen_at",
/// "active_topics","connected_clients","connected_sockets","alive","uptime","uptime_seconds"}`
/// in that order, the times as Go's `time.Time` marshals them (docs/protocol.md "Node roster").
public enum RosterEntryJSON {
    /// A stored entry larger than this is skipped unread: upstream's are about 300 bytes.
    public static let maxEntryBytes = 16 * 1024

    /// Go's zero `time.Time`, which a missing or null time decodes to.
    static let zeroTime = WallTime(seconds: -62_135_596_800)

    /// One standing as a JSON object; `alive` and the uptime as the writer saw them.
    public static func encode(_ standing: NodeStanding) -> String {
        let entry = standing.entry
        let identity = entry.identity
        var json = "{\"id\":" + JSONWriter.quoted(identity.id) + ",\"name\":" + JSONWriter.quoted(identity.name)
        json += ",\"version\":" + JSONWriter.quoted(identity.version)
        json += ",\"started_at\":\"" + RFC3339.format(identity.startedAt) + "\",\"seen_at\":\"" + RFC3339.format(entry.seenAt) + "\""
        json += ",\"active_topics\":\(entry.activeTopics),\"connected_clients\":\(entry.connectedClients)"
        json += ",\"connected_sockets\":\(entry.connectedSockets),\"alive\":\(standing.alive)"
        json += ",\"uptime\":\"" + standing.uptime + "\",\"uptime_seconds\":\(standing.uptimeSeconds)}"
        return json
    }

    /// A list of standings as a JSON array.
    public static func encode(_ standings: [NodeStanding]) -> String {
        "[" + standings.map { encode($0) }.joined(separator: ",") + "]"
    }

    /// Reads a stored entry; nil when it is not an object, or a field has a type Go's decoder
    /// refuses. Missing fields read as Go's zero values; a missing id as the hash field's
    /// `key`. The stored `alive` and uptime are checked for their types and otherwise ignored:
    /// readers judge by `seen_at`. (Go also matches names regardless of case; this reads the
    /// names as Go writes them.)
    public static func decode(_ bytes: [UInt8], key: String) -> NodeEntry? {
        guard bytes.count <= maxEntryBytes else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> NodeEntry? in
            guard let object = try? JSONObjectFields(buffer) else { return nil }
            guard let id = string(object, object["id"]), let name = string(object, object["name"]),
                let version = string(object, object["version"]), let startedAt = time(object, object["started_at"]),
                let seenAt = time(object, object["seen_at"]), let topics = integer(object, object["active_topics"]),
                let clients = integer(object, object["connected_clients"]), let sockets = integer(object, object["connected_sockets"])
            else { return nil }
            // Go's decoder refuses a wrong type here too, though readers recompute these.
            if let alive = object["alive"], alive.kind != .null, alive.kind != .bool { return nil }
            guard string(object, object["uptime"]) != nil, integer(object, object["uptime_seconds"]) != nil else { return nil }
            let identity = NodeIdentity(id: id.isEmpty ? key : id, name: name, version: version, startedAt: startedAt ?? zeroTime)
            return NodeEntry(
                identity: identity, seenAt: seenAt ?? zeroTime, activeTopics: topics, connectedClients: clients, connectedSockets: sockets)
        }
    }

    // Each reader: nil (refused) for a wrong type, .some(zero value) for a missing or null field.

    private static func string(_ object: JSONObjectFields, _ field: JSONField?) -> String? {
        guard let field, field.kind != .null else { return "" }
        return object.string(field)
    }

    private static func integer(_ object: JSONObjectFields, _ field: JSONField?) -> Int? {
        guard let field, field.kind != .null else { return 0 }
        return object.int64(field).flatMap { Int(exactly: $0) }
    }

    private static func time(_ object: JSONObjectFields, _ field: JSONField?) -> WallTime?? {
        guard let field, field.kind != .null else { return .some(nil) }
        guard let text = object.string(field), let time = RFC3339.parse(text.utf8) else { return nil }
        return .some(time)
    }
}
