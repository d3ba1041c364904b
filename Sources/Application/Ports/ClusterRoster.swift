// Port: the nodes that share this node's cluster, as the shared roster lists them.
public import Domain

/// The roster of the nodes sharing a cluster. Reading it never waits on the network.
public protocol ClusterRoster: LifecycleService {
    /// The entries as last read from the shared roster, this node's own one current; nil when
    /// the roster cannot be read (the shared store was never reached, or not lately).
    var reading: RosterReading? { get }
}
