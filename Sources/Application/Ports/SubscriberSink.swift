// Port: hands an event to this node's subscribers (the transports).
public import Domain

/// Delivers events to the local subscribers of their topic.
///
/// The implementation encodes the outgoing frame once per event and hands the same bytes to
/// every subscriber (docs/architecture.md "Runtime model").
public protocol SubscriberSink: Sendable {
    func deliver(_ event: PublishedEvent)
    /// Messages may have been missed (the link they come by was lost): positions seen so far
    /// no longer vouch for what follows.
    func historyInterrupted()
}

extension SubscriberSink {
    public func historyInterrupted() {}
}
