// The JSON of the messages nodes exchange about channels they hold (docs/pusher.md "The cluster").
public import Domain

/// `{"type":…,"node":…,"seq":n,…}`; channels travel as `[app, channel]` pairs inside arrays,
/// so a snapshot is `"members":[[app,channel,user,info-or-null],…]` and
/// `"counts":[[app,channel,n],…]`. `user_info` is relayed as the raw JSON the client signed.
public enum ReplicaMessageJSON {
    /// A larger message is dropped unread (a snapshot of 10,000 members is about 700 KB).
    public static let maxMessageBytes = 16 << 20
    /// Nesting a message may have: a snapshot holds `user_info` three levels down, and a
    /// client's `channel_data` may nest it 8 levels (`PusherMessageDecoder.maxDepth`).
    public static let maxDepth = 16

    public static func encode(_ message: ReplicaMessage) -> [UInt8] {
        var json = "{\"type\":"
        switch message {
        case .joined(let node, let sequence, let key, let userID, let info):
            json += "\"joined\"" + head(node, sequence) + channel(key) + ",\"user_id\":" + JSONWriter.quoted(userID) + ",\"user_info\":"
            return Array(json.utf8) + (info.isEmpty ? Array("null".utf8) : info) + [UInt8(ascii: "}")]
        case .left(let node, let sequence, let key, let userID):
            json += "\"left\"" + head(node, sequence) + channel(key) + ",\"user_id\":" + JSONWriter.quoted(userID)
        case .counts(let node, let sequence, let counts):
            json += "\"counts\"" + head(node, sequence) + ",\"counts\":" + encodeCounts(counts)
        case .snapshot(let node, let sequence, let channels):
            json += "\"snapshot\"" + head(node, sequence) + ",\"counts\":" + encodeCounts(channels.subscriptions) + ",\"members\":["
            var bytes = Array(json.utf8)
            var first = true
            for (key, users) in channels.members.sorted(by: { $0.key < $1.key }) {
                for (user, info) in users.sorted(by: { $0.key < $1.key }) {
                    if !first { bytes.append(UInt8(ascii: ",")) }
                    first = false
                    bytes += Array(("[" + JSONWriter.quoted(key.app) + "," + JSONWriter.quoted(key.channel) + "," + JSONWriter.quoted(user) + ",").utf8)
                    bytes += info.isEmpty ? Array("null".utf8) : info
                    bytes.append(UInt8(ascii: "]"))
                }
            }
            return bytes + Array("]}".utf8)
        case .heartbeat(let node, let sequence):
            json += "\"heartbeat\"" + head(node, sequence)
        case .snapshotRequest(let node, let of):
            json += "\"snapshot_request\",\"node\":" + JSONWriter.quoted(node) + (of.map { ",\"of\":" + JSONWriter.quoted($0) } ?? "")
        case .departed(let node):
            json += "\"departed\",\"node\":" + JSONWriter.quoted(node)
        case .seniority(let node, let since):
            json += "\"seniority\",\"node\":" + JSONWriter.quoted(node) + ",\"linked_since\":\(since)"
        case .terminate(let node, let app, let userID):
            json += "\"terminate\",\"node\":" + JSONWriter.quoted(node) + ",\"app\":" + JSONWriter.quoted(app) + ",\"user_id\":" + JSONWriter.quoted(userID)
        case .cached(let node, let key, let event):
            json += "\"cached\",\"node\":" + JSONWriter.quoted(node) + channel(key) + ",\"entry\":"
            return Array(json.utf8) + cacheEntry(nil, event) + [UInt8(ascii: "}")]
        case .caches(let node, let entries):
            json += "\"caches\",\"node\":" + JSONWriter.quoted(node) + ",\"entries\":["
            var bytes = Array(json.utf8)
            for (index, (key, event)) in entries.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes += cacheEntry(key, event)
            }
            return bytes + Array("]}".utf8)
        }
        return Array((json + "}").utf8)
    }

    /// `[app, channel, published_at, expires_at, origin, event]`, or without the channel for `cached`.
    private static func cacheEntry(_ key: ChannelKey?, _ event: CachedEvent) -> [UInt8] {
        var head = "["
        if let key { head += JSONWriter.quoted(key.app) + "," + JSONWriter.quoted(key.channel) + "," }
        head += "\(event.publishedAt),\(event.expiresAt)," + JSONWriter.quoted(event.origin) + ","
        return Array(head.utf8) + event.message + [UInt8(ascii: "]")]
    }

    private static func head(_ node: String, _ sequence: UInt64) -> String {
        ",\"node\":" + JSONWriter.quoted(node) + ",\"seq\":\(sequence)"
    }

    private static func channel(_ key: ChannelKey) -> String {
        ",\"app\":" + JSONWriter.quoted(key.app) + ",\"channel\":" + JSONWriter.quoted(key.channel)
    }

    private static func encodeCounts(_ counts: [ChannelKey: Int]) -> String {
        "[" + counts.sorted { $0.key < $1.key }.map { "[" + JSONWriter.quoted($0.key.app) + "," + JSONWriter.quoted($0.key.channel) + ",\($0.value)]" }
            .joined(separator: ",") + "]"
    }

    // MARK: - Decoding

    /// What `isSent(by:)` looks for in the messages `node` wrote.
    public static func senderMarker(_ node: String) -> [UInt8] {
        Array((",\"node\":" + JSONWriter.quoted(node)).utf8)
    }

    public static func isSent(by node: String, _ bytes: [UInt8]) -> Bool {
        isSent(byMarker: senderMarker(node), bytes)
    }

    /// Whether `bytes` is a message whose sender has `marker`, judged from its head (the encoder
    /// writes `"node"` right after `"type"`): a node's own echoes cost a scan of 64 bytes, not a parse.
    public static func isSent(byMarker marker: [UInt8], _ bytes: [UInt8]) -> Bool {
        let head = bytes.prefix(64)
        guard head.count >= marker.count else { return false }
        for start in head.indices.dropLast(marker.count - 1) where head[start] == marker[0] {
            if head[start..<(start + marker.count)].elementsEqual(marker) {
                // The field after the marker must end there (a longer id is another node).
                let next = start + marker.count
                return next < bytes.count && (bytes[next] == UInt8(ascii: ",") || bytes[next] == UInt8(ascii: "}"))
            }
        }
        return false
    }

    /// Reads a message; nil when it is too large, malformed, or of a type this node does not know
    /// (a newer node's, which is ignored rather than misread).
    public static func decode(_ bytes: [UInt8]) -> ReplicaMessage? {
        guard bytes.count <= maxMessageBytes else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> ReplicaMessage? in
            guard let object = try? JSONObjectFields(buffer, maxDepth: maxDepth), let type = text(object, object["type"]),
                let node = text(object, object["node"]), !node.isEmpty
            else { return nil }
            let sequence = object["seq"].flatMap { object.int64($0) }.flatMap { UInt64(exactly: $0) }
            switch type {
            case "joined":
                guard let sequence, let key = channelKey(object), let user = text(object, object["user_id"]) else { return nil }
                guard let info = object["user_info"] else { return nil }
                return .joined(node: node, sequence: sequence, key: key, userID: user, info: info.kind == .null ? [] : object.rawValue(info))
            case "left":
                guard let sequence, let key = channelKey(object), let user = text(object, object["user_id"]) else { return nil }
                return .left(node: node, sequence: sequence, key: key, userID: user)
            case "counts":
                guard let sequence, let counts = decodeCounts(object, object["counts"]) else { return nil }
                return .counts(node: node, sequence: sequence, counts)
            case "snapshot":
                guard let sequence, let counts = decodeCounts(object, object["counts"]), let members = decodeMembers(object, object["members"]) else {
                    return nil
                }
                return .snapshot(node: node, sequence: sequence, NodeChannels(members: members, subscriptions: counts))
            case "heartbeat":
                guard let sequence else { return nil }
                return .heartbeat(node: node, sequence: sequence)
            case "snapshot_request":
                guard let of = object["of"] else { return .snapshotRequest(node: node, of: nil) }
                guard let target = object.string(of) else { return nil }
                return .snapshotRequest(node: node, of: target)
            case "departed":
                return .departed(node: node)
            case "seniority":
                guard let since = object["linked_since"].flatMap({ object.int64($0) }) else { return nil }
                return .seniority(node: node, linkedSince: since)
            case "terminate":
                guard let app = text(object, object["app"]), let user = text(object, object["user_id"]) else { return nil }
                return .terminate(node: node, app: app, userID: user)
            case "cached":
                guard let key = channelKey(object), let field = object["entry"], field.kind == .array,
                    let cells = try? JSONReader.arrayElements(UnsafeBufferPointer(rebasing: buffer[field.valueRange]), maxDepth: maxDepth),
                    let event = cacheEntry(object, cells.map { (($0.range.lowerBound + field.valueRange.lowerBound)..<($0.range.upperBound + field.valueRange.lowerBound), $0.kind) })
                else { return nil }
                return .cached(node: node, key: key, event: event)
            case "caches":
                guard let rows = rows(object, object["entries"]) else { return nil }
                var entries: [ChannelKey: CachedEvent] = [:]
                for row in rows {
                    guard row.count == 6, let app = string(object, row[0]), let channel = string(object, row[1]),
                        let event = cacheEntry(object, Array(row[2...]))
                    else { return nil }
                    entries[ChannelKey(app: app, channel: channel)] = event
                }
                return .caches(node: node, entries)
            default:
                return nil
            }
        }
    }

    private static func text(_ object: JSONObjectFields, _ field: JSONField?) -> String? {
        field.flatMap { object.string($0) }
    }

    private static func channelKey(_ object: JSONObjectFields) -> ChannelKey? {
        guard let app = text(object, object["app"]), let channel = text(object, object["channel"]) else { return nil }
        return ChannelKey(app: app, channel: channel)
    }

    /// The elements of an array of arrays, each as the strings and raw values it holds.
    private static func rows(_ object: JSONObjectFields, _ field: JSONField?) -> [[(range: Range<Int>, kind: JSONValueKind)]]? {
        guard let field, field.kind == .array else { return nil }
        let base = field.valueRange.lowerBound
        guard let elements = try? JSONReader.arrayElements(UnsafeBufferPointer(rebasing: object.bytes[field.valueRange]), maxDepth: maxDepth) else {
            return nil
        }
        var rows: [[(range: Range<Int>, kind: JSONValueKind)]] = []
        rows.reserveCapacity(elements.count)
        for element in elements {
            let range = (element.range.lowerBound + base)..<(element.range.upperBound + base)
            guard element.kind == .array, let cells = try? JSONReader.arrayElements(UnsafeBufferPointer(rebasing: object.bytes[range]), maxDepth: maxDepth) else {
                return nil
            }
            rows.append(cells.map { ((($0.range.lowerBound + range.lowerBound)..<($0.range.upperBound + range.lowerBound)), $0.kind) })
        }
        return rows
    }

    private static func string(_ object: JSONObjectFields, _ cell: (range: Range<Int>, kind: JSONValueKind)) -> String? {
        guard cell.kind == .string else { return nil }
        return JSONText.unescape(object.bytes, (cell.range.lowerBound + 1)..<(cell.range.upperBound - 1))
    }

    /// `[published_at, expires_at, origin, event]`, the event an object.
    private static func cacheEntry(_ object: JSONObjectFields, _ cells: [(range: Range<Int>, kind: JSONValueKind)]) -> CachedEvent? {
        guard cells.count == 4, cells[0].kind == .number, cells[1].kind == .number, let origin = string(object, cells[2]), cells[3].kind == .object,
            let published = JSONText.int64(object.bytes, cells[0].range), let expires = JSONText.int64(object.bytes, cells[1].range)
        else { return nil }
        return CachedEvent(message: Array(object.bytes[cells[3].range]), publishedAt: published, expiresAt: expires, origin: origin)
    }

    private static func decodeCounts(_ object: JSONObjectFields, _ field: JSONField?) -> [ChannelKey: Int]? {
        guard let rows = rows(object, field) else { return nil }
        var counts: [ChannelKey: Int] = [:]
        for row in rows {
            guard row.count == 3, let app = string(object, row[0]), let channel = string(object, row[1]), row[2].kind == .number,
                let count = JSONText.int64(object.bytes, row[2].range).flatMap({ Int(exactly: $0) }), count >= 0
            else { return nil }
            counts[ChannelKey(app: app, channel: channel)] = count
        }
        return counts
    }

    private static func decodeMembers(_ object: JSONObjectFields, _ field: JSONField?) -> [ChannelKey: [String: [UInt8]]]? {
        guard let rows = rows(object, field) else { return nil }
        var members: [ChannelKey: [String: [UInt8]]] = [:]
        for row in rows {
            guard row.count == 4, let app = string(object, row[0]), let channel = string(object, row[1]), let user = string(object, row[2]) else { return nil }
            members[ChannelKey(app: app, channel: channel), default: [:]][user] = row[3].kind == .null ? [] : Array(object.bytes[row[3].range])
        }
        return members
    }
}
