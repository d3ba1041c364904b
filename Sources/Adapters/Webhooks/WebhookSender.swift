// One endpoint's sender: a thread of its own that drains the endpoint's queue with libcurl.
internal import Application
internal import Domain
internal import CLinux
internal import Glibc
public import Logging

/// Runs one endpoint's `WebhookQueue` on a thread of its own, so a slow or dead endpoint holds
/// up nothing but itself: `add` takes the queue's lock for an append and a signal, never waits
/// on the network. The thread sleeps on a condition until the queue has something due.
final class WebhookSender: @unchecked Sendable {
    let scope: String
    let target: WebhookTarget
    private let signer: OpenSSLHMAC
    private let signatureName: String
    private let extraHeaders: [String]
    private let caFile: String?
    private let clock: any Clock
    private let logger: Logger

    // Guarded by `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: WebhookQueue
    private var stopping = false
    private var stopDeadline: MonotonicTime?
    private var finished = false

    /// `signatureName`: the header that carries hex(HMAC-SHA256(`secret`, body)).
    init(
        scope: String, target: WebhookTarget, secret: [UInt8], signatureName: String, headers: [String], settings: WebhookQueue.Settings,
        caFile: String?, clock: any Clock, logger: Logger
    ) {
        self.scope = scope
        self.target = target
        signer = OpenSSLHMAC(keyBytes: secret)
        self.signatureName = signatureName
        extraHeaders = headers
        self.caFile = caFile
        self.clock = clock
        self.logger = logger
        queue = WebhookQueue(settings: settings)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func start() {
        DetachedThread.run { [self] in run() }
    }

    func add(_ event: WebhookEvent) {
        let now = clock.monotonic
        pthread_mutex_lock(mutex)
        // A batch that opens or closes changes when the thread must act; other events wait.
        if !stopping && queue.add(event, now: now) { pthread_cond_signal(condition) }
        pthread_mutex_unlock(mutex)
    }

    /// What is queued goes out until `deadline`; then the thread ends.
    func stop(deadline: MonotonicTime) {
        pthread_mutex_lock(mutex)
        stopping = true
        stopDeadline = deadline
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until the thread has ended or `deadline` passed.
    func awaitEnd(deadline: MonotonicTime) {
        pthread_mutex_lock(mutex)
        while !finished && clock.monotonic < deadline { timedWait(until: deadline) }
        pthread_mutex_unlock(mutex)
    }

    var figures: (counts: WebhookQueue.Counts, depth: Int) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (queue.counts, queue.depth)
    }

    // MARK: - The thread

    private func run() {
        // Named, so that top, perf and the benchmark can tell its CPU time from the loops'.
        _ = clinux_name_thread("webhook")
        guard let poster = CurlPoster(url: target.url, headers: extraHeaders, caFile: caFile) else {
            logger.error("webhook endpoint cannot be used: libcurl did not start", metadata: ["app": "\(scope)", "url": "\(target.url)"])
            end()
            return
        }
        var body: (number: UInt64, bytes: [UInt8], signature: String)?
        pthread_mutex_lock(mutex)
        while true {
            let now = clock.monotonic
            if stopping, let stopDeadline, now >= stopDeadline { break }
            switch queue.next(now: now) {
            case .wait(let until):
                if stopping && until == nil { break }
                if let until { timedWait(until: stopping ? min(until, stopDeadline ?? until) : until) } else { pthread_cond_wait(condition, mutex) }
                continue
            case .send(let batch):
                pthread_mutex_unlock(mutex)
                // A retry sends the same body, signature and time_ms as the first attempt.
                if body?.number != batch.number {
                    let bytes = WebhookBody.encode(batch.events, timeMilliseconds: wallMilliseconds)
                    body = (batch.number, bytes, Hex.encodeLowercase(bytes.withUnsafeBytes { signer.authenticationCode(for: $0) }.bytes))
                }
                let outcome = poster.post(body!.bytes, signatureHeader: "\(signatureName): \(body!.signature)")
                pthread_mutex_lock(mutex)
                // Logged outside the lock: `add` runs on the loops, under the node's lock.
                if let notice = queue.finished(outcome, now: clock.monotonic) {
                    pthread_mutex_unlock(mutex)
                    log(notice)
                    pthread_mutex_lock(mutex)
                }
                continue
            }
            break
        }
        // Before `finished`: the process may exit as soon as it is set.
        if queue.depth > 0 {
            logger.warning("webhook events unsent at stop", metadata: ["app": "\(scope)", "url": "\(target.url)", "events": "\(queue.depth)"])
        }
        finished = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The thread could not start sending: nothing is taken from now on.
    private func end() {
        pthread_mutex_lock(mutex)
        stopping = true
        finished = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    private func log(_ notice: WebhookQueue.Notice) {
        switch notice {
        case .failing(let reason):
            logger.warning("webhook endpoint failing", metadata: ["app": "\(scope)", "url": "\(target.url)", "reason": "\(reason)"])
        case .recovered:
            logger.notice("webhook endpoint recovered", metadata: ["app": "\(scope)", "url": "\(target.url)"])
        }
    }

    private var wallMilliseconds: Int64 {
        let now = clock.wallTime
        return now.seconds &* 1000 &+ Int64(now.nanoseconds / 1_000_000)
    }

    /// Waits on the condition until `deadline` on the monotonic clock (the condition's clock).
    private func timedWait(until deadline: MonotonicTime) {
        let remaining = max(0, deadline.nanoseconds - clock.monotonic.nanoseconds)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let target = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) + remaining
        var absolute = timespec(tv_sec: Int(target / 1_000_000_000), tv_nsec: Int(target % 1_000_000_000))
        pthread_cond_timedwait(condition, mutex, &absolute)
    }
}
