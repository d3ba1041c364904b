// The JSON of /internal/status and of the worker.status push (docs/protocol.md "Status").
public import Domain

/// Renders a status snapshot with the field names and order of the upstream worker.
public enum StatusJSON {
    /// - Parameter extensions: more members (`"name":value`), such as the transports' own figures.
    public static func encode(_ status: StatusSnapshot, extensions: [String] = []) -> [UInt8] {
        var json = "{\"status\":\"ok\",\"version\":" + JSONWriter.quoted(status.version)
        json += ",\"uptime\":\"\(status.uptime)\",\"uptime_seconds\":\(status.uptimeSeconds)"
        json += ",\"registered_topics\":\(status.registeredTopicCount),\"active_topics\":\(status.activeTopicCount)"
        json += ",\"connected_clients\":\(status.connectedClients),\"connected_sockets\":\(status.connectedSockets)"
        if let topics = status.registeredTopics { json += ",\"topic_list\":" + list(topics) }
        if let topics = status.activeTopics { json += ",\"active_topic_list\":" + list(topics) }
        json += ",\"cluster_nodes\":\(status.clusterNodes)"
        // Upstream 0.3.0's roster: present always, null when the roster cannot be read.
        json += ",\"nodes\":" + (status.nodes.map { RosterEntryJSON.encode($0) } ?? "null")
        // Extensions, present only in cluster mode; clients written for upstream ignore them.
        if let connected = status.clusterConnected { json += ",\"cluster_connected\":\(connected)" }
        if let unsent = status.clusterUnsent { json += ",\"cluster_unsent\":\(unsent)" }
        for member in extensions { json += "," + member }
        json += "}"
        return Array(json.utf8)
    }

    /// The extension member `"topic_rules"`: each registered topic a rule applies to, with the
    /// rule as configured (the first that matches).
    public static func topicRules(_ rules: TopicRules, of topics: [TopicName]) -> String {
        var members: [String] = []
        for topic in topics {
            guard let rule = rules.rule(for: topic) else { continue }
            var fields = [#""topics":"# + JSONWriter.quoted(rule.pattern.text)]
            if rule.latestOnly { fields.append(#""latest_only":true"#) }
            if let window = rule.coalesce { fields.append(#""coalesce":"# + JSONWriter.quoted(GoDuration.formatExact(window))) }
            members.append(JSONWriter.quoted(topic.value) + ":{" + fields.joined(separator: ",") + "}")
        }
        return #""topic_rules":{"# + members.joined(separator: ",") + "}"
    }

    private static func list(_ topics: [TopicName]) -> String {
        "[" + topics.map { JSONWriter.quoted($0.value) }.joined(separator: ",") + "]"
    }
}
