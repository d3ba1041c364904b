// The process's own CPU time, resident memory and descriptors, from /proc/self.
internal import Glibc
internal import CLinux

/// Figures of this process for the `process_*` metrics, read at scrape time.
struct ProcessFigures {
    var cpuSeconds = 0.0
    var residentBytes = 0.0
    var openDescriptors = 0.0

    static func read() -> ProcessFigures {
        var figures = ProcessFigures()
        // Every thread's CPU time, user and system.
        var spec = timespec()
        if clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec) == 0 {
            figures.cpuSeconds = Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
        }
        // statm's second field: resident pages.
        if let statm = SystemFile.contents("/proc/self/statm"), let resident = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) {
            figures.residentBytes = resident * Double(sysconf(Int32(_SC_PAGESIZE)))
        }
        if let directory = opendir("/proc/self/fd") {
            var count = 0
            while let entry = readdir(directory) {
                if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { count += 1 }
            }
            closedir(directory)
            figures.openDescriptors = Double(max(0, count - 1))  // less the descriptor of this listing
        }
        return figures
    }
}
