// The echo mode used for Autobahn runs: nothing it sends on its own may end a case early.
@testable import Adapters
import Testing

struct EchoResponderTests {
    /// The longest Autobahn case (the permessage-deflate sections 12 and 13) fails at its first
    /// frame that is not an echo, and may take up to this long on a slow machine.
    static let longestCase: Duration = .seconds(480)

    @Test func sendsNoKeepAlivePingWhileACaseMayStillRun() {
        let settings = EchoResponder().settings
        #expect(settings.pingInterval > Self.longestCase)
        #expect(settings.idleTimeout > settings.pingInterval)
    }
}
