// A broker wired to fakes, shared by the use-case tests.
import Application
import Domain
import Logging
import TestSupport

struct BrokerFixture {
    let clock: ManualClock
    let topics = FakeTopicStore()
    let bus: RecordingBus
    let statistics = FakeStatistics()
    let authenticator = FakeAuthenticator()
    let logs = InMemoryLogHandler.Store()
    let broker: Broker

    init(nodeCount: Int? = nil, clock: ManualClock = ManualClock(), roster: (any ClusterRoster)? = nil) {
        self.clock = clock
        bus = RecordingBus(nodeCount: nodeCount)
        let ports = Broker.Ports(
            topics: topics, bus: bus, authenticator: authenticator, claimsDecoder: FakeClaimsDecoder(),
            statistics: statistics, clock: clock, roster: roster)
        broker = Broker(ports: ports, topicTTL: .seconds(3600), version: "9.9.9", logger: InMemoryLogHandler.logger(logs))
    }

    /// A token for the fake authenticator and decoder.
    func token(_ claims: String) -> String {
        authenticator.mint(claimsJSON: "claims:" + claims)
    }
}
