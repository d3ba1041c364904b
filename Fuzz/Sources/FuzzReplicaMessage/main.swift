// libFuzzer target: reading the messages nodes exchange about the channels they hold, which
// any node, or anyone with access to Redis, may publish. Any bytes must end in a message or
// nil, never a crash; a message that was read writes back to bytes that read as the same one.
import Adapters
import Domain
import FuzzSupport

runFuzzer { bytes in
    guard let message = ReplicaMessageJSON.decode(Array(bytes)) else { return }
    let written = ReplicaMessageJSON.encode(message)
    let reread = ReplicaMessageJSON.decode(written)
    precondition(reread == message, "a message read from \(Array(bytes)) does not survive its own writing: \(written)")
}
