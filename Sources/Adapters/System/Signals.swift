// Process signals: the main thread waits for SIGTERM/SIGINT (and SIGHUP) while the loops run.
internal import Glibc
internal import CLinux

/// Signal handling for the worker process.
public enum ProcessSignals {
    /// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and every thread created after), so
    /// only `waitForTermination` receives them; ignores SIGPIPE, which sockets report as EPIPE
    /// instead. SIGHUP, whose default ends the process, is a reload request here, as for nginx.
    public static func prepare() {
        signal(SIGPIPE, SIG_IGN)
        var set = waited
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static var waited: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGHUP)
        return set
    }

    /// Blocks until SIGTERM or SIGINT arrives and returns its name; calls `hangup` on the
    /// waiting thread for each SIGHUP meanwhile.
    public static func waitForTermination(hangup: () -> Void = {}) -> String {
        var set = waited
        while true {
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { continue }
            if received == SIGHUP {
                hangup()
                continue
            }
            return received == SIGTERM ? "SIGTERM" : "SIGINT"
        }
    }

    /// Waits up to `duration` for another SIGTERM or SIGINT: true when one came (an operator
    /// who does not want to wait for the drain). A SIGHUP meanwhile is taken and ignored.
    public static func awaitTermination(for duration: Duration) -> Bool {
        var set = waited
        var timeout = timespec(tv_sec: Int(duration.components.seconds), tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
        let received = sigtimedwait(&set, nil, &timeout)
        return received == SIGTERM || received == SIGINT
    }

    /// Sleeps the calling (non-loop) thread.
    public static func sleep(_ duration: Duration) {
        var request = timespec(tv_sec: Int(duration.components.seconds), tv_nsec: Int(duration.components.attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
