// TLS on one connection: ciphertext in and out through memory BIOs, driven by the connection's
// loop like any other input and output (docs/adr/0021).
internal import COpenSSL

/// One connection's `SSL`. The socket I/O below moves ciphertext exactly as it moves plain
/// bytes (the connection's queue holds records); the handlers above see plaintext only.
/// Confined to the connection's loop.
final class TLSSession {
    enum Phase {
        case handshaking
        case established
        /// The handshake or a record failed: nothing more is decrypted or encrypted.
        case failed
    }

    /// Why handshakes fail, as `wavelog_tls_handshake_failures_total{reason}` names them.
    enum FailureReason: String, CaseIterable {
        /// Plain HTTP sent to the TLS port (answered with a plain-text 400, as nginx does).
        case plainHTTP = "plain_http"
        /// TLS 1.0 or 1.1, or SSL: only 1.2 and 1.3 are served.
        case version
        case noSharedCipher = "no_shared_cipher"
        /// Anything else that is not a well-formed handshake (random bytes, a broken record).
        case protocolError = "protocol"
        /// The handshake did not finish within the deadline.
        case timeout
        /// The peer closed the connection after it began a handshake it never finished.
        case closed
    }

    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer
    private(set) var phase = Phase.handshaking
    /// What the handlers queued, waiting to be encrypted; bounded as a plain connection's queue.
    var plaintext = WriteQueue()
    private var receivedHandshakeBytes = false
    private var closeNotifySent = false

    /// Nil when OpenSSL is out of memory.
    init?(server: TLSServer) {
        guard let ssl = TLSRecords.withMemoryBIOs(server.makeSession()) else { return nil }
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        input = SSL_get_rbio(ssl)!
        output = SSL_get_wbio(ssl)!
    }

    deinit {
        SSL_free(ssl)
    }

    // MARK: - Input

    /// Ciphertext from the peer, valid only during the call.
    func received(_ bytes: UnsafeRawBufferPointer, by connection: Connection) {
        guard phase != .failed, bytes.count > 0 else { return }
        guard BIO_write(input, bytes.baseAddress, Int32(bytes.count)) == Int32(bytes.count) else {
            connection.close()  // Out of memory: nothing sensible to answer.
            return
        }
        if phase == .handshaking {
            receivedHandshakeBytes = true
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            guard result == 1 else {
                if SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ {
                    queueOutput(of: connection)
                } else {
                    fail(connection, Self.classifyHandshakeError())
                }
                return
            }
            phase = .established
            connection.loop.metrics.tlsHandshakes &+= 1
            // TLS 1.3 session tickets follow the server's Finished.
            queueOutput(of: connection)
        }
        readPlaintext(connection)
    }

    /// Decrypts everything complete in the input BIO into the loop's read buffer (free again:
    /// the ciphertext was copied into the BIO) and hands it on record by record.
    private func readPlaintext(_ connection: Connection) {
        let end = TLSRecords.read(ssl, into: connection.loop.readBuffer, while: { connection.acceptsInput }) { connection.deliver($0) }
        switch end {
        case .needsInput:
            queueOutput(of: connection)  // A key update's answer, if any.
        case .closedByPeer:
            connection.close()
        case .failed:
            phase = .failed
            connection.close()
        case .stopped:
            break
        }
    }

    /// A handshake failed: the alert OpenSSL wrote goes out, then the connection closes. Plain
    /// HTTP gets an answer it can read, so whoever typed http:// learns what is wrong.
    private func fail(_ connection: Connection, _ reason: FailureReason) {
        phase = .failed
        connection.loop.metrics.countTLSHandshakeFailure(reason.rawValue)
        if reason == .plainHTTP {
            _ = BIO_ctrl(output, BIO_CTRL_RESET, 0, nil)
            _ = connection.queue.append(Self.plainHTTPAnswer, limits: .unlimited)
            connection.closeAfterFlush()
        } else {
            queueOutput(of: connection)
            connection.closeAfterFlush(lingering: false)
        }
    }

    /// The handshake deadline passed.
    func timedOut(_ connection: Connection) {
        guard phase == .handshaking else { return }
        phase = .failed
        connection.loop.metrics.countTLSHandshakeFailure(FailureReason.timeout.rawValue)
        connection.close()
    }

    /// The connection closed; a handshake it had begun is counted as failed.
    func connectionClosed(_ connection: Connection) {
        guard phase == .handshaking else { return }
        phase = .failed
        if receivedHandshakeBytes { connection.loop.metrics.countTLSHandshakeFailure(FailureReason.closed.rawValue) }
    }

    static let plainHTTPAnswer = EncodedFrame(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 58\r\nConnection: close\r\n\r\n"
            + "This port speaks TLS: use https:// or wss:// to reach it.\n")

    private static func classifyHandshakeError() -> FailureReason {
        let code = ERR_peek_error()
        ERR_clear_error()
        switch shim_ERR_GET_REASON(code) {
        case SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST: return .plainHTTP
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_VERSION_TOO_LOW: return .version
        case SSL_R_NO_SHARED_CIPHER: return .noSharedCipher
        default: return .protocolError
        }
    }

    // MARK: - Output

    /// Encrypts queued plaintext into records on the connection's queue, before the socket I/O
    /// writes that queue. Only while less than a turn's budget of records waits: plaintext that
    /// has not been encrypted can still be dropped for a slow reader, records cannot. A closing
    /// connection encrypts all it has (its queue is bounded) and ends with close_notify.
    func encryptPending(_ connection: Connection) {
        guard phase == .established else { return }
        let closing = connection.state == .closingAfterFlush
        guard closing || connection.queue.byteCount < Connection.writeBudgetPerTurn else { return }
        let vectors = UnsafeMutableRawPointer(connection.loop.iovecs).assumingMemoryBound(to: IOVector.self)
        while !plaintext.isEmpty {
            let entries = plaintext.gather(into: vectors, capacity: EventLoop.iovecCapacity, budget: Connection.writeBudgetPerTurn)
            var encrypted = 0
            for index in 0..<entries {
                let vector = vectors[index]
                // A memory BIO takes everything: SSL_write writes the whole buffer or fails.
                guard SSL_write(ssl, vector.base, Int32(vector.length)) > 0 else {
                    phase = .failed
                    ERR_clear_error()
                    connection.close()
                    return
                }
                encrypted += vector.length
            }
            plaintext.consume(encrypted)
            if !closing { break }
        }
        if closing && !closeNotifySent {
            closeNotifySent = true
            _ = SSL_shutdown(ssl)
        }
        moveOutput(to: connection)
    }

    /// What OpenSSL wrote to the output BIO goes to the connection's queue, to be flushed.
    private func queueOutput(of connection: Connection) {
        if moveOutput(to: connection) { connection.scheduleFlush() }
    }

    /// Moves the output BIO's bytes to the connection's queue as one frame (its records).
    @discardableResult
    private func moveOutput(to connection: Connection) -> Bool {
        let pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return false }
        let frame = EncodedFrame(count: pending) { _ = BIO_read(output, $0.baseAddress, Int32(pending)) }
        _ = connection.queue.append(frame, limits: .unlimited)
        return true
    }
}
