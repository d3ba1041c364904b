// The Lua script that gives a history topic's message its position and publishes it, atomically.
public import Application
public import Domain

/// One `EVAL` per message of a topic with history, in place of the `PUBLISH` other topics get:
/// Redis keeps the topic's counter in a hash (`<prefix>position:<topic>`: `epoch`, `offset`),
/// increments it, and publishes the envelope with `"position":"<epoch>-<offset>"` in the same
/// step, so the order of positions is the order every node receives them in.
///
/// The epoch is the first publisher's random candidate, kept while the hash lives and while
/// the same Redis process (`run_id`) serves it. A Redis restart (with or without persistence:
/// a counter restored from disk may be behind what was published) or a failover to a replica
/// starts a new epoch, and so does a day without messages; positions from before are answered
/// with `resync`.
enum PositionScript {
    static let keyLifetimeMilliseconds = 24 * 3600 * 1000

    static let source = Array("""
        pcall(redis.replicate_commands)
        local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''
        local state = redis.call('HMGET', KEYS[1], 'epoch', 'run')
        local epoch = state[1]
        if not epoch or state[2] ~= run then
          epoch = ARGV[1]
          redis.call('HSET', KEYS[1], 'epoch', epoch, 'run', run, 'offset', 0)
        end
        local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        redis.call('PUBLISH', ARGV[2], ARGV[3] .. epoch .. '-' .. offset .. ARGV[4])
        return offset
        """.utf8)

    static func command(key: [UInt8], channel: [UInt8], candidateEpoch: [UInt8], head: [UInt8], tail: [UInt8]) -> [[UInt8]] {
        [Array("EVAL".utf8), source, Array("1".utf8), key, candidateEpoch, channel, head, tail, Array(String(keyLifetimeMilliseconds).utf8)]
    }

    /// The upstream envelope split where the position goes: `{"origin_id":…,"topic":…,
    /// "payload":…,"position":"` and `"}` (with `"except"` before the brace when set).
    /// Upstream nodes ignore the extra field.
    static func envelopeParts(originID: String, event: PublishedEvent) -> (head: [UInt8], tail: [UInt8]) {
        var head = Array("{\"origin_id\":\"\(originID)\",\"topic\":".utf8)
        head += Array(JSONWriter.quoted(event.topic.value).utf8)
        head += Array(",\"payload\":".utf8)
        head += event.payload.bytes
        head += Array(",\"position\":\"".utf8)
        var tail = Array("\"".utf8)
        if let excluded = event.excludedSocket {
            tail += Array(",\"except\":".utf8) + Array(JSONWriter.quoted(excluded).utf8)
        }
        tail.append(UInt8(ascii: "}"))
        return (head, tail)
    }
}
