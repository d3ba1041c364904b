// How a Redis link notices a Redis that stopped answering, and what the kernel tells of its path.
internal import Glibc

extension RedisConnection {
    /// How a connection notices a Redis that stopped answering (hung, paused, partitioned
    /// without a reset), which TCP alone reports only after many minutes.
    public struct Liveness: Sendable {
        /// A command whose reply is older than this drops the link: the same path as a lost one.
        public var timeout: Duration = .seconds(3)
        /// Ping while idle, so a silent link is tested too (not on a subscribed connection,
        /// where the commands are not answered one by one).
        public var pings = true
        /// What a link that stopped answering becomes. `reconnect` frees it and connects again:
        /// right where a command lost with the link costs nothing. `wait` reports it down and
        /// keeps it open: Redis still runs every command that reached its socket, even after
        /// we reset the connection (measured with a paused redis-server), so only a link kept
        /// open learns which commands ran. A dead path still ends it: data the peer's kernel
        /// has not acknowledged for `deadPathTimeout`, or kernel keep-alive probes of an idle
        /// link left unanswered. A paused Redis's kernel acknowledges both, even at a full
        /// window (which is why TCP_USER_TIMEOUT, which ends a zero window too, is not used).
        public var whenSilent = WhenSilent.reconnect

        public enum WhenSilent: Sendable { case reconnect, wait }

        /// Twice the timeout: a path that comes back within that loses nothing at all.
        var deadPathTimeout: Duration { timeout * 2 }

        public init() {}
    }
}

extension RedisConnection.Liveness {
    /// TCP alone takes many minutes to give up on a peer that acknowledges nothing (a
    /// partition, a host gone without a reset): an idle link is probed by the kernel instead.
    func probeWhenIdle(_ descriptor: Int32) {
        // Idle for twice the timeout, then three probes a second apart: longer than the dead
        // path of a busy link, so a subscription outlives a partition its publisher survives.
        let seconds = Int32(clamping: max(1, deadPathTimeout.components.seconds))
        let size = socklen_t(MemoryLayout<Int32>.size)
        var on: Int32 = 1, idle = seconds, interval: Int32 = 1, count: Int32 = 3
        _ = setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
    }

    /// Nothing acknowledged for `deadPathTimeout` while something awaits acknowledgement: sent
    /// data, or probes of a zero window (a peer that stopped reading and then vanished). A
    /// paused peer's kernel answers its zero-window probes, which resets both counts.
    func pathIsDead(_ descriptor: Int32) -> Bool {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return false }
        let limit = deadPathTimeout.components
        let milliseconds = limit.seconds * 1000 + limit.attoseconds / 1_000_000_000_000_000
        return (info.tcpi_unacked > 0 || info.tcpi_probes >= 3) && Int64(info.tcpi_last_ack_recv) >= milliseconds
    }
}
