// The server's side of the figures, read from /proc: CPU time of all its threads and its RSS.
import Glibc

struct ServerProbe {
    let processes: [Int32]

    /// Nanoseconds on CPU, summed over every thread (schedstat is exact, unlike the 10 ms ticks
    /// of /proc/PID/stat).
    func cpuNanoseconds() -> UInt64 {
        var total: UInt64 = 0
        for process in processes {
            for task in Self.tasks(of: process) {
                guard let text = Self.read("/proc/\(process)/task/\(task)/schedstat"),
                      let first = text.split(separator: " ").first, let value = UInt64(first) else { continue }
                total += value
            }
        }
        return total
    }

    /// Clock ticks the server's threads spent in user space and in the kernel, from field 14 and
    /// 15 of every /proc/PID/task/TID/stat. Coarse (10 ms), so only their ratio is used: it splits
    /// the exact schedstat figure into the part the server's code can change and the part the
    /// system calls and the network stack cost.
    func userAndKernelTicks() -> (user: UInt64, kernel: UInt64) {
        var user: UInt64 = 0, kernel: UInt64 = 0
        for process in processes {
            for task in Self.tasks(of: process) {
                // The command name (field 2) may hold spaces and parentheses; fields count from its end.
                guard let text = Self.read("/proc/\(process)/task/\(task)/stat"),
                      let close = text.lastIndex(of: ")") else { continue }
                let fields = text[text.index(after: close)...].split(separator: " ")
                guard fields.count > 12, let utime = UInt64(fields[11]), let stime = UInt64(fields[12]) else { continue }
                user += utime
                kernel += stime
            }
        }
        return (user, kernel)
    }

    func residentKiB() -> Int {
        processes.reduce(0) { sum, process in
            guard let text = Self.read("/proc/\(process)/status"),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return sum }
            return sum + (Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0)
        }
    }

    /// Jiffies of all CPUs from /proc/stat's first line: the time the hypervisor ran something
    /// else while a virtual CPU wanted to run ("steal"), and the total. A latency tail measured
    /// while steal was high says more about the host than about the server.
    static func cpuTicks() -> (steal: UInt64, total: UInt64) {
        guard let text = read("/proc/stat"), let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return (0, 0) }
        let values = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        return (values.count > 7 ? values[7] : 0, values.prefix(8).reduce(0, +))
    }

    private static func tasks(of process: Int32) -> [String] {
        guard let directory = opendir("/proc/\(process)/task") else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.first?.isNumber == true { names.append(name) }
        }
        return names
    }

    private static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
