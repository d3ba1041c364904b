// Random interleavings of joins, leaves, lost messages, dead nodes and broken links, checked
// against a simple model: every node's sockets see membership as a strict alternation of
// added and removed, and once the cluster is quiet every node holds the same roster and counts,
// the union of what the live nodes hold, with exactly one announcement per quiet transition.
import Domain
import TestSupport
import Testing

/// Nodes joined by Redis pub/sub as it behaves: each publisher's messages reach each
/// subscriber in order; a node whose link is down neither sends nor receives, and what was in
/// flight to it is lost.
struct ReplicaCluster {
    var nodes: [String: ReplicatedChannels] = [:]
    var linkUp: [String: Bool] = [:]
    var queues: [String: [String: [ReplicaMessage]]] = [:]
    var now = MonotonicTime(nanoseconds: 1_000_000_000_000)
    /// What each node's sockets were told, per channel and user: true for added.
    var told: [String: [ChannelKey: [String: [Bool]]]] = [:]
    var violations: [String] = []
    var nextNode = 0

    mutating func start() -> String {
        nextNode += 1
        let id = "n" + (nextNode < 10 ? "0" : "") + String(nextNode)
        nodes[id] = ReplicatedChannels(localNode: id)
        linkUp[id] = false
        told[id] = [:]
        bringUp(id)
        return id
    }

    mutating func bringUp(_ node: String) {
        guard nodes[node] != nil, linkUp[node] == false else { return }
        linkUp[node] = true
        run(node) { [now] in $0.linkCameUp(now: now) }
    }

    mutating func breakLink(_ node: String) {
        guard linkUp[node] == true else { return }
        linkUp[node] = false
        nodes[node]!.linkWentDown()
        for sender in queues.keys { queues[sender]![node] = nil }
    }

    /// SIGKILL: gone without a word; what it already published still arrives.
    mutating func kill(_ node: String) {
        nodes[node] = nil
        linkUp[node] = nil
        told[node] = nil
        for sender in queues.keys { queues[sender]![node] = nil }
    }

    /// SIGTERM: its sockets close, then it says it departs.
    mutating func stop(_ node: String) {
        for (key, users) in nodes[node]!.local.members {
            for user in users.keys { run(node) { $0.leave(key, userID: user) } }
        }
        for (key, count) in nodes[node]!.local.subscriptions { run(node) { $0.subscriptionsChanged(key, by: -count) } }
        run(node) { [now] in $0.tick(now: now) }
        run(node) { $0.depart() }
        kill(node)
    }

    mutating func run(_ node: String, _ event: (inout ReplicatedChannels) -> [ReplicatedChannels.Action]) {
        let actions = event(&nodes[node]!)
        for action in actions {
            switch action {
            case .announce(let change): record(change, at: node)
            case .send(let message):
                guard linkUp[node] == true else { continue }
                for receiver in nodes.keys where receiver != node && linkUp[receiver] == true {
                    queues[node, default: [:]][receiver, default: []].append(message)
                }
            case .terminate, .countChanged, .newcomer: break
            }
        }
    }

    mutating func record(_ change: ReplicatedChannels.MemberChange, at node: String) {
        let (key, user, added): (ChannelKey, String, Bool)
        switch change {
        case .added(let k, let u, _): (key, user, added) = (k, u, true)
        case .removed(let k, let u): (key, user, added) = (k, u, false)
        }
        let history = told[node]![key]?[user] ?? []
        if (history.last ?? false) == added {
            violations.append("\(node) told \(added ? "added" : "removed") twice in a row for \(user) in \(key.channel)")
        }
        told[node]![key, default: [:]][user, default: []].append(added)
    }

    /// Delivers the oldest message from `sender` to `receiver`.
    mutating func deliver(from sender: String, to receiver: String) {
        guard var queue = queues[sender]?[receiver], !queue.isEmpty else { return }
        let message = queue.removeFirst()
        queues[sender]![receiver] = queue
        guard nodes[receiver] != nil else { return }
        run(receiver) { [now] in $0.receive(message, now: now) }
    }

    var pending: [(String, String)] {
        // Sorted: dictionaries iterate in a per-process order, and a seed must replay.
        queues.flatMap { sender, byReceiver in byReceiver.filter { !$0.value.isEmpty }.map { (sender, $0.key) } }.sorted { $0 < $1 }
    }

    mutating func advance(seconds: Int) {
        for _ in 0..<seconds {
            now = now.advanced(by: .seconds(1))
            for node in nodes.keys.sorted() { run(node) { [now] in $0.tick(now: now) } }
        }
    }

    /// Every link up, every message delivered, time enough for silence and snapshots.
    mutating func quiesce() {
        for node in nodes.keys.sorted() { bringUp(node) }
        for _ in 0..<25 {
            while let (sender, receiver) = pending.first { deliver(from: sender, to: receiver) }
            advance(seconds: 1)
        }
        while let (sender, receiver) = pending.first { deliver(from: sender, to: receiver) }
    }

    /// The union of what the live nodes hold.
    var expectedMembers: [ChannelKey: Set<String>] {
        var union: [ChannelKey: Set<String>] = [:]
        for replica in nodes.values {
            for (key, users) in replica.local.members { union[key, default: []].formUnion(users.keys) }
        }
        return union
    }

    var expectedCounts: [ChannelKey: Int] {
        var sums: [ChannelKey: Int] = [:]
        for replica in nodes.values {
            for (key, count) in replica.local.subscriptions { sums[key, default: 0] += count }
        }
        return sums
    }

    /// Differences between each node's view (and what its sockets were told) and the model.
    func disagreements(keys: [ChannelKey]) -> [String] {
        var found: [String] = []
        let members = expectedMembers
        let counts = expectedCounts
        for (node, replica) in nodes.sorted(by: { $0.key < $1.key }) {
            for key in keys {
                let expected = members[key] ?? []
                let held = Set(replica.members(of: key).map(\.userID))
                if held != expected { found.append("\(node) holds \(held.sorted()) in \(key.channel), expected \(expected.sorted())") }
                let toldPresent = Set((told[node]![key] ?? [:]).filter { $0.value.last == true }.keys)
                if toldPresent != expected { found.append("\(node) told its sockets \(toldPresent.sorted()) in \(key.channel)") }
                if replica.subscriptions(of: key) != counts[key] ?? 0 {
                    found.append("\(node) counts \(replica.subscriptions(of: key)) in \(key.channel), expected \(counts[key] ?? 0)")
                }
            }
        }
        return found
    }
}

struct ReplicatedChannelsModelTests {
    static let keys = [ChannelKey(app: "1", channel: "presence-a"), ChannelKey(app: "1", channel: "presence-b"), ChannelKey(app: "2", channel: "presence-a")]
    static let users = ["u1", "u2", "u3", "u4"]

    @Test func randomHistoriesEndInOneRosterEverywhere() {
        for seed in 0..<300 { check(seed: seed) }
    }

    func check(seed: Int) {
        var random = SeededGenerator(seed: UInt64(seed))
        var cluster = ReplicaCluster()
        for _ in 0..<3 { _ = cluster.start() }
        for _ in 0..<400 {
            let live = cluster.nodes.keys.sorted()
            guard let node = live.randomElement(using: &random) else { _ = cluster.start(); continue }
            let key = Self.keys.randomElement(using: &random)!
            let user = Self.users.randomElement(using: &random)!
            switch Int.random(in: 0..<100, using: &random) {
            case 0..<22:
                cluster.run(node) { $0.join(key, userID: user, info: Array("{\"n\":\"\(node)\"}".utf8)) }
            case 22..<40:
                cluster.run(node) { $0.leave(key, userID: user) }
            case 40..<48:
                let delta = Int.random(in: 1...3, using: &random)
                cluster.run(node) { $0.subscriptionsChanged(key, by: delta) }
            case 48..<52:
                let held = cluster.nodes[node]!.local.subscriptions[key] ?? 0
                let delta = held > 0 ? -Int.random(in: 1...held, using: &random) : 0
                if held > 0 { cluster.run(node) { $0.subscriptionsChanged(key, by: delta) } }
            case 52..<80:
                if let (sender, receiver) = cluster.pending.randomElement(using: &random) { cluster.deliver(from: sender, to: receiver) }
            case 80..<88:
                cluster.advance(seconds: Int.random(in: 1...6, using: &random))
            case 88..<91:
                cluster.breakLink(node)
            case 91..<94:
                cluster.bringUp(live.randomElement(using: &random)!)
            case 94..<95:
                if live.count > 1 { cluster.kill(node) }
            case 95..<96:
                if live.count > 1 { cluster.stop(node) }
            case 96..<97:
                if live.count < 5 { _ = cluster.start() }
            default:
                // A message lost on the way (a link that broke and came back between two reads).
                if let (sender, receiver) = cluster.pending.randomElement(using: &random) {
                    cluster.queues[sender]![receiver]!.removeFirst()
                }
            }
        }
        // The newest change in flight lost: only the heartbeat's number can show it.
        if let (sender, receiver) = cluster.pending.randomElement(using: &random) { cluster.queues[sender]![receiver]!.removeLast() }
        cluster.quiesce()
        #expect(cluster.violations == [], "seed \(seed)")
        #expect(cluster.disagreements(keys: Self.keys) == [], "seed \(seed)")

        // From quiet, one join somewhere is one `added` at every node, one leave one `removed`.
        let key = Self.keys[0]
        let node = cluster.nodes.keys.sorted().randomElement(using: &random)!
        let before = cluster.told.mapValues { $0[key]?["newcomer"]?.count ?? 0 }
        cluster.run(node) { $0.join(key, userID: "newcomer", info: []) }
        cluster.quiesce()
        cluster.run(node) { $0.leave(key, userID: "newcomer") }
        cluster.quiesce()
        for (id, history) in cluster.told {
            #expect(history[key]?["newcomer"]?.dropFirst(before[id] ?? 0) == [true, false], "seed \(seed), node \(id)")
        }
        #expect(cluster.violations == [], "seed \(seed)")
    }
}
