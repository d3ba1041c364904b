// Refusals as log lines: at most one per interval per reason, with how many it stands for.
public import Domain
public import Logging
internal import Synchronization

/// Logs refused connections and handshakes without letting a flood of them flood the log: the
/// first refusal of a reason is logged at once, later ones at most once per `interval`, each
/// line carrying `count`, the refusals of that reason since the previous line. The totals are
/// in `/metrics`. Shared by every loop; taken only on a refusal, never on the delivery path.
public final class RefusalLog: Sendable {
    public static let interval: Duration = .seconds(10)

    private struct Reason {
        var loggedAt: MonotonicTime
        var unlogged = 0
    }

    private let logger: Logger
    private let reasons = Locked<[String: Reason]>([:])

    public init(logger: Logger) {
        self.logger = logger
    }

    /// One refusal for `reason`, logged with `metadata` if its interval has passed.
    public func refused(_ reason: String, at now: MonotonicTime, metadata: @autoclosure () -> Logger.Metadata) {
        let count = reasons.withLock { table -> Int? in
            guard var entry = table[reason] else {
                table[reason] = Reason(loggedAt: now)
                return 1
            }
            entry.unlogged += 1
            if now.duration(since: entry.loggedAt) >= Self.interval {
                let count = entry.unlogged
                table[reason] = Reason(loggedAt: now)
                return count
            }
            table[reason] = entry
            return nil
        }
        guard let count else { return }
        var fields = metadata()
        fields["reason"] = "\(reason)"
        fields["count"] = "\(count)"
        logger.warning("connections refused", metadata: fields)
    }
}
