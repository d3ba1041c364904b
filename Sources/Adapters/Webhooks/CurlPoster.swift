// One POST to a webhook endpoint with libcurl, blocking, on the endpoint's own thread.
internal import CCurl
internal import Domain

/// A libcurl easy handle kept for one endpoint, so its connection (and TLS session) is reused.
/// Used by one thread only.
final class CurlPoster {
    static let timeoutMilliseconds = 5000

    private let handle: UnsafeMutableRawPointer
    private let headerLines: [String]

    /// Once per process, before any thread uses libcurl.
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    init?(url: String, headers lines: [String], caFile: String?) {
        guard Self.initialized, let handle = curl_easy_init() else { return nil }
        self.handle = handle
        // No `Expect: 100-continue`: it costs a round trip, or a second's wait, per batch.
        headerLines = lines + ["Content-Type: application/json", "Expect:"]
        ccurl_setopt_string(handle, CURLOPT_URL, url)
        ccurl_setopt_long(handle, CURLOPT_POST, 1)
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.timeoutMilliseconds)
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.timeoutMilliseconds)
        // Threads without signals: libcurl's timeouts must not use SIGALRM.
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile { ccurl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        ccurl_setopt_string(handle, CURLOPT_USERAGENT, "wavelog-worker")
        ccurl_discard_body(handle)
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    /// POSTs `body` with `signatureHeader`; what became of it, as the queue classes it.
    func post(_ body: [UInt8], signatureHeader: String) -> WebhookQueue.Outcome {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in headerLines + [signatureHeader] { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }
        ccurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeRawPointer(list))
        let code = body.withUnsafeBytes { bytes in
            ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, bytes.count)
            ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, bytes.baseAddress)
            return curl_easy_perform(handle)
        }
        ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
        ccurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, nil)
        switch code {
        case CURLE_OK:
            var status = 0
            ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            return Self.classify(status: status)
        case CURLE_OPERATION_TIMEDOUT:
            return .retry(reason: "timeout")
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            return .retry(reason: "tls")
        default:
            return .retry(reason: "connection")
        }
    }

    /// 2xx accepted; 408, 429 and 5xx worth retrying; anything else refused.
    static func classify(status: Int) -> WebhookQueue.Outcome {
        switch status {
        case 200..<300: .accepted
        case 408: .retry(reason: "status_408")
        case 429: .retry(reason: "status_429")
        case 500..<600: .retry(reason: "status_5xx")
        default: .rejected(reason: "status_\(status / 100)xx")
        }
    }
}
