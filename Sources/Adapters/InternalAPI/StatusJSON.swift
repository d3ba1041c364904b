// The JSON of /internal/status and of the worker.status push (PROTOCOL.md "Status").
public import Domain

/// Renders a status snapshot with the field names and order of the upstream worker.
public enum StatusJSON {
    public static func encode(_ status: StatusSnapshot) -> [UInt8] {
        var json = "{\"status\":\"ok\",\"version\":" + quoted(status.version)
        json += ",\"uptime\":\"\(status.uptime)\",\"uptime_seconds\":\(status.uptimeSeconds)"
        json += ",\"registered_topics\":\(status.registeredTopicCount),\"active_topics\":\(status.activeTopicCount)"
        json += ",\"connected_clients\":\(status.connectedClients),\"connected_sockets\":\(status.connectedSockets)"
        if let topics = status.registeredTopics { json += ",\"topic_list\":" + list(topics) }
        if let topics = status.activeTopics { json += ",\"active_topic_list\":" + list(topics) }
        json += ",\"cluster_nodes\":\(status.clusterNodes)"
        // Extensions, present only in cluster mode; clients written for upstream ignore them.
        if let connected = status.clusterConnected { json += ",\"cluster_connected\":\(connected)" }
        if let unsent = status.clusterUnsent { json += ",\"cluster_unsent\":\(unsent)" }
        json += "}"
        return Array(json.utf8)
    }

    private static func list(_ topics: [TopicName]) -> String {
        "[" + topics.map { quoted($0.value) }.joined(separator: ",") + "]"
    }

    /// A JSON string literal. Topics hold no control characters, but quotes and backslashes may occur.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
