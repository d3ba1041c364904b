// Process signals: the main thread waits for SIGTERM/SIGINT while the loops run.
internal import Glibc
internal import CLinux

/// Signal handling for the worker process.
public enum ProcessSignals {
    /// Blocks SIGTERM and SIGINT in this thread (and every thread created after), so only
    /// `waitForTermination` receives them; ignores SIGPIPE, which sockets report as EPIPE instead.
    public static func prepare() {
        signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks until SIGTERM or SIGINT arrives; returns its name.
    public static func waitForTermination() -> String {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received == SIGTERM ? "SIGTERM" : "SIGINT"
    }

    /// Sleeps the calling (non-loop) thread.
    public static func sleep(_ duration: Duration) {
        var request = timespec(tv_sec: Int(duration.components.seconds), tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
