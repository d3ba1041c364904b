// Accepts as io_uring operations: a listener keeps a few accepts in the kernel, each with the
// address the kernel writes the peer's into, so a connection costs no accept4 of its own and no
// accept4 that finds the queue empty (docs/adr/0014 "Accepts through the ring").
internal import Glibc
internal import CUring

/// One accept in the kernel and the memory it writes into. Retained by the operation until
/// its completion, so the address outlives a listener closed meanwhile.
final class AcceptSlot {
    let listener: Listener
    let peer = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 1)
    let peerLength = UnsafeMutablePointer<socklen_t>.allocate(capacity: 1)
    /// The operation is in the kernel (its completion has not been delivered).
    var inFlight = false

    init(listener: Listener) {
        self.listener = listener
        peer.initialize(to: sockaddr_storage())
        peerLength.initialize(to: 0)
    }

    deinit {
        peer.deallocate()
        peerLength.deallocate()
    }
}

extension UringPoller {
    /// Arms one accept on `slot`'s listener; its completion arrives with the socket completions.
    func startAccepting(_ slot: AcceptSlot) {
        slot.peerLength.pointee = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let entry = nextEntry()
        io_uring_prep_accept(
            entry, slot.listener.descriptor, UnsafeMutableRawPointer(slot.peer).assumingMemoryBound(to: sockaddr.self), slot.peerLength,
            Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(entry, Self.userData(slot, .accept))
        _ = Unmanaged.passRetained(slot)
        slot.inFlight = true
    }

}
