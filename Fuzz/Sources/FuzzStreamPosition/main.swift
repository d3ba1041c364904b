// libFuzzer target: positions as clients send them back (`Last-Event-ID`, `since`), which
// anyone can forge. Any bytes must end in a position or nil, never a crash; a position that
// was read writes back to text that reads as the same position; and the topic patterns of
// the configuration match any name without a crash.
import Domain
import FuzzSupport

runFuzzer { bytes in
    let input = Array(bytes)
    if let position = StreamPosition.parse(input) {
        precondition(input.count <= StreamPosition.maxTextLength, "read \(input.count) bytes")
        let written = position.description
        precondition(StreamPosition.parse(Array(written.utf8)) == position, "\(input) does not survive its writing: \(written)")
    }
    // The first half as a pattern, the rest as a topic name.
    let cut = input.count / 2
    if let pattern = TopicPattern(String(decoding: input[..<cut], as: UTF8.self)),
        let topic = TopicName(String(decoding: input[cut...], as: UTF8.self))
    {
        _ = pattern.matches(topic)
    }
}
