// How many cores this process may run on: what `threads: 0` means.
internal import Glibc

/// The cores the process may use, at least 1: the smaller of the CPUs in its affinity mask
/// (`taskset`, a container's cpuset) and its cgroup CPU quota rounded up (`docker --cpus`),
/// as Go's runtime counts them. The online processor count alone put two event loops on one
/// pinned core, where each hand-over between them waits for the scheduler: milliseconds of
/// publish-to-receive latency.
public enum ProcessorBudget {
    public static var cores: Int {
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var budget = online
        if let status = SystemFile.contents("/proc/self/status"), let allowed = field("Cpus_allowed_list", in: status),
            let count = cpuListCount(allowed)
        {
            budget = min(budget, count)
        }
        if let quota = cgroupQuotaCores() { budget = min(budget, quota) }
        return max(1, budget)
    }

    /// The number of CPUs in a kernel CPU list such as `0-3,8,10-11`; nil if it is not one.
    public static func cpuListCount(_ list: String) -> Int? {
        var count = 0
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]),
                low <= high
            else { return nil }
            count += high - low + 1
        }
        return count > 0 ? count : nil
    }

    /// Cores allowed by a cgroup v2 `cpu.max` line (`<quota> <period>` or `max <period>`),
    /// rounded up; nil when unlimited or unreadable.
    public static func quotaCores(cpuMax: String) -> Int? {
        let fields = cpuMax.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]), quota > 0, period > 0 else { return nil }
        return max(1, (quota + period - 1) / period)
    }

    // The smallest quota on the way from the process's cgroup up to the root of the hierarchy.
    private static func cgroupQuotaCores() -> Int? {
        guard let membership = SystemFile.contents("/proc/self/cgroup"),
            let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") })
        else { return nil }
        var path = String(line.dropFirst(3))
        var smallest: Int?
        while true {
            if let text = SystemFile.contents("/sys/fs/cgroup" + (path == "/" ? "" : path) + "/cpu.max"), let cores = quotaCores(cpuMax: text) {
                smallest = min(smallest ?? cores, cores)
            }
            guard path != "/", let slash = path.lastIndex(of: "/") else { break }
            path = slash == path.startIndex ? "/" : String(path[..<slash])
        }
        return smallest
    }

    private static func field(_ name: String, in status: String) -> String? {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return String(line.dropFirst(name.count + 1).filter { $0 != " " && $0 != "\t" })
        }
        return nil
    }
}
