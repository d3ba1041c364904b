// The buffers io_uring receives into: one ring of them per loop, lent per completion
// (docs/adr/0014 "Who owns a buffer").
internal import Glibc
internal import CUring

/// A provided-buffer ring (Linux 5.19): the kernel picks a free buffer when data arrives, so a
/// connection waiting for input owns none. A buffer is the kernel's until a completion names
/// it, ours while that completion is delivered, and the kernel's again once `recycle` returns it.
final class ProvidedBufferRing {
    static let group: UInt16 = 0

    let count: UInt32
    let size: Int
    private let entries: UnsafeMutablePointer<io_uring_buf_ring>
    private let memory: UnsafeMutableRawPointer
    private let mask: Int32
    /// Buffers handed back since the tail was last published to the kernel.
    private var returned: Int32 = 0

    /// Registers `count` (a power of two) buffers of `size` bytes with `ring`.
    init(ring: inout io_uring, count: UInt32, size: Int) throws(SystemError) {
        precondition(count.nonzeroBitCount == 1 && count <= 32768, "a buffer ring holds a power of two, at most 32768")
        self.count = count
        self.size = size
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ringBytes = Int(count) * MemoryLayout<io_uring_buf>.stride
        // The kernel maps the ring itself: it must start on a page.
        entries = UnsafeMutableRawPointer.allocate(byteCount: max(ringBytes, pageSize), alignment: pageSize)
            .bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        memory = .allocate(byteCount: Int(count) * size, alignment: 64)
        mask = io_uring_buf_ring_mask(count)
        io_uring_buf_ring_init(entries)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: entries))
        registration.ring_entries = count
        registration.bgid = Self.group
        let status = io_uring_register_buf_ring(&ring, &registration, 0)
        guard status == 0 else {
            UnsafeMutableRawPointer(entries).deallocate()
            memory.deallocate()
            throw SystemError(call: "io_uring_register_buf_ring", errno: -status)
        }
        for id in 0..<Int32(count) { offer(UInt16(id)) }
        publish()
    }

    /// Frees the memory; the ring it was registered with must be gone (or the group unregistered).
    func deallocate() {
        UnsafeMutableRawPointer(entries).deallocate()
        memory.deallocate()
    }

    /// The bytes of buffer `id` a completion reported.
    func bytes(_ id: UInt16, count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: memory + Int(id) * size, count: count)
    }

    /// Gives buffer `id` back; the kernel sees it at the next `publish`.
    func recycle(_ id: UInt16) {
        offer(id)
    }

    /// Makes the buffers given back visible to the kernel (one store for the batch).
    func publish() {
        guard returned > 0 else { return }
        io_uring_buf_ring_advance(entries, returned)
        returned = 0
    }

    private func offer(_ id: UInt16) {
        io_uring_buf_ring_add(entries, memory + Int(id) * size, UInt32(size), id, mask, returned)
        returned += 1
    }
}
