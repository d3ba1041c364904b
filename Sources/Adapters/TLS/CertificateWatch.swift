// Reloading a port's certificate when its files change on disk (a renewal that replaces them
// in place), besides SIGHUP: inotify on the files' folders, on a thread of its own.
internal import Glibc
internal import CLinux

/// Watches the folders that hold a certificate and its key. A change to either name (a file
/// written and closed, or a name moved or linked into place, as certbot replaces the links in
/// `live/`) waits `settle` for the rest of the renewal, then calls `changed` once.
enum CertificateWatch {
    static let settle: Duration = .seconds(1)

    /// Starts the watch; false when inotify is not available (the SIGHUP reload still is).
    static func start(files: [String], changed: @escaping @Sendable () -> Void) -> Bool {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { return false }
        let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE)
        var names: [Int32: Set<String>] = [:]
        for file in files {
            let (folder, name) = split(file)
            let watch = inotify_add_watch(descriptor, folder, mask)
            guard watch >= 0 else {
                close(descriptor)
                return false
            }
            names[watch, default: []].insert(name)
        }
        let watched = names
        return DetachedThread.run(orSkip: true) {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                guard awaitChange(descriptor, &buffer, watched) else { return }
                ProcessSignals.sleep(settle)
                // What else the renewal changed meanwhile is part of the same reload.
                var pending = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                while poll(&pending, 1, 0) > 0 { _ = Glibc.read(descriptor, &buffer, buffer.count) }
                changed()
            }
        }
    }

    /// Blocks until an event names a watched file; false when the descriptor failed.
    private static func awaitChange(_ descriptor: Int32, _ buffer: inout [UInt8], _ names: [Int32: Set<String>]) -> Bool {
        while true {
            let count = Glibc.read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            var relevant = false
            buffer.withUnsafeBytes { bytes in
                while offset + header <= count {
                    let event = bytes.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let nameBytes = bytes[(offset + header)..<min(count, offset + header + Int(event.len))]
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    if names[event.wd]?.contains(name) == true { relevant = true }
                    offset += header + Int(event.len)
                }
            }
            if relevant { return true }
        }
    }

    private static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }
}
