// Port: what nodes tell each other besides events: the channels they hold, and commands.
public import Domain

/// Carries `ReplicaMessage`s between the nodes of a cluster. A node alone has one that sends
/// nowhere and hears nothing.
public protocol NodeMessenger: AnyObject, Sendable {
    /// Sends to every other node. Calls reach each node in the order they were made; while the
    /// link is down they are dropped (a node re-sends its whole state when the link returns).
    /// Any thread; never blocks.
    func send(_ message: ReplicaMessage)
    /// Installs the one listener, before the messenger starts. It is called on one thread, in order.
    func listen(_ listener: any NodeMessageListener)
}

/// Receives other nodes' messages and the state of the link to them.
public protocol NodeMessageListener: AnyObject, Sendable {
    func received(_ message: ReplicaMessage)
    /// Up: messages flow both ways (again); down: nothing is heard until the next up.
    func linkChanged(up: Bool)
}
