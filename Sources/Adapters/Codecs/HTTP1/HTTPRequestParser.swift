// An incremental, bounded HTTP/1.1 request parser: a pure value that never sees a socket
// (docs/development.md "Parsers are pure values").

/// Parses requests out of the unconsumed bytes of a connection.
///
/// Call `parse` with every byte received so far that no earlier request consumed. The parser
/// remembers how far it has looked, so trickled input is scanned once, not once per read. Limits
/// are enforced as soon as the head declares them: a `Content-Length` over the body limit is 413
/// before any of the body is read.
public struct HTTPRequestParser {
    public enum Event: Equatable {
        case needMoreBytes
        /// The client sent `Expect: 100-continue`: answer `100 Continue`, then call `parse` again.
        case continueExpected
        /// A complete request that used the first `consumed` bytes.
        case request(HTTPRequest, consumed: Int)
    }

    private enum State {
        case head(scanned: Int)
        case fixedBody(HTTPRequestHead, bodyStart: Int, length: Int)
        case chunked(HTTPRequestHead, Chunked)
    }

    private struct Chunked {
        enum Phase {
            case size
            case data(remaining: Int)
            case dataEnd
            case trailers(seen: Int)
        }

        var cursor: Int
        var phase: Phase = .size
        var body: [UInt8] = []
    }

    private var state: State = .head(scanned: 0)
    private var continueAnswered = false
    private let keepsFieldLines: Bool

    /// - Parameter keepsFieldLines: whether requests carry their raw field lines
    ///   (`HTTPHeaders.fields`). A listener whose routes read only the named fields skips the
    ///   copy (6 % of a keep-alive publish, callgrind).
    public init(keepsFieldLines: Bool = true) {
        self.keepsFieldLines = keepsFieldLines
    }

    /// True when no request is in progress (nothing buffered belongs to a started request).
    public var isBetweenRequests: Bool {
        if case .head(0) = state { return true }
        return false
    }

    /// True while the request line and headers are still incomplete.
    public var isReadingHead: Bool {
        if case .head = state { return true }
        return false
    }

    public mutating func parse(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Event {
        while true {
            switch state {
            case .head(let scanned):
                guard let (head, bodyStart) = try parseHead(bytes, scanned: scanned, keepingFields: keepsFieldLines) else { return .needMoreBytes }
                if head.headers.chunked {
                    state = .chunked(head, Chunked(cursor: bodyStart))
                } else if let length = head.headers.contentLength, length > 0 {
                    state = .fixedBody(head, bodyStart: bodyStart, length: length)
                } else {
                    return finish(HTTPRequest(head: head, body: []), consumed: bodyStart)
                }

            case .fixedBody(let head, let bodyStart, let length):
                if bytes.count >= bodyStart + length {
                    let body = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + length)]))
                    return finish(HTTPRequest(head: head, body: body), consumed: bodyStart + length)
                }
                return waitForBody(head)

            case .chunked(let head, var chunked):
                // Take the body out of the state so appending does not copy it.
                state = .head(scanned: 0)
                let done = try parseChunks(bytes, &chunked)
                if done {
                    return finish(HTTPRequest(head: head, body: chunked.body), consumed: chunked.cursor)
                }
                state = .chunked(head, chunked)
                return waitForBody(head)
            }
        }
    }

    private mutating func waitForBody(_ head: HTTPRequestHead) -> Event {
        if head.headers.expectContinue && !continueAnswered {
            continueAnswered = true
            return .continueExpected
        }
        return .needMoreBytes
    }

    private mutating func finish(_ request: HTTPRequest, consumed: Int) -> Event {
        state = .head(scanned: 0)
        continueAnswered = false
        return .request(request, consumed: consumed)
    }

    // MARK: - Head

    private mutating func parseHead(_ bytes: UnsafeRawBufferPointer, scanned: Int, keepingFields: Bool) throws(HTTPParseError) -> (HTTPRequestHead, Int)? {
        // RFC 9112 §2.2: ignore empty lines before the request line.
        var start = 0
        while start < bytes.count, bytes[start] == 0x0D || bytes[start] == 0x0A, start < HTTPLimits.maxHeadBytes { start += 1 }

        var end: Int?
        var index = max(start, scanned)
        while true {
            guard let newline = ASCII.index(of: 0x0A, in: bytes, from: index) else {
                index = max(index, bytes.count)
                break
            }
            index = newline
            if index + 1 < bytes.count && bytes[index + 1] == 0x0A {
                end = index + 2
                break
            }
            if index + 2 < bytes.count && bytes[index + 1] == 0x0D && bytes[index + 2] == 0x0A {
                end = index + 3
                break
            }
            if index + 2 >= bytes.count { break }  // The terminator may still be arriving.
            index += 1
        }
        guard let end else {
            if bytes.count - start > HTTPLimits.maxHeadBytes { throw .headersTooLarge }
            state = .head(scanned: max(start, index))
            return nil
        }
        if end - start > HTTPLimits.maxHeadBytes { throw .headersTooLarge }
        let head = try Self.decodeHead(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), keepingFields: keepingFields)
        return (head, end)
    }

    private static func decodeHead(_ bytes: UnsafeRawBufferPointer, keepingFields: Bool) throws(HTTPParseError) -> HTTPRequestHead {
        var lines = LineReader(bytes: bytes)
        guard let requestLine = lines.next() else { throw .badRequest("empty request") }
        var head = try decodeRequestLine(requestLine)
        let fieldsStart = lines.position
        while let line = lines.next(), line.count > 0 {
            head.headers.count += 1
            if head.headers.count > HTTPLimits.maxHeaderCount { throw .headersTooLarge }
            try decodeField(line, into: &head.headers)
        }
        if head.headers.chunked && head.headers.contentLength != nil {
            throw .badRequest("both Content-Length and Transfer-Encoding")  // RFC 9112 §6.1: smuggling risk.
        }
        if head.headers.contentLength ?? 0 > HTTPLimits.maxBodyBytes { throw .payloadTooLarge }
        if keepingFields { head.headers.fields = HTTPFieldBlock(UnsafeRawBufferPointer(rebasing: bytes[min(fieldsStart, bytes.count)...])) }
        return head
    }

    private static func decodeRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> HTTPRequestHead {
        guard let firstSpace = line.firstIndex(of: 0x20) else { throw .badRequest("request line") }
        let method = UnsafeRawBufferPointer(rebasing: line[0..<firstSpace])
        guard !method.isEmpty, method.allSatisfy(ASCII.isTokenByte) else { throw .badRequest("method") }
        let rest = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)...])
        guard let secondSpace = rest.firstIndex(of: 0x20) else { throw .badRequest("request line") }
        let target = UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<secondSpace])
        let version = UnsafeRawBufferPointer(rebasing: rest[(secondSpace + 1)...])
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .badRequest("target") }

        // Absolute-form (RFC 9112 §3.2.2): keep only the path and query.
        let path: String
        if target.begins(with: "http://") || target.begins(with: "https://") {
            let authorityStart = target.firstIndex(of: UInt8(ascii: ":"))! + 3
            path = target[authorityStart...].firstIndex(of: UInt8(ascii: "/")).map {
                String(decoding: UnsafeRawBufferPointer(rebasing: target[$0...]), as: UTF8.self)
            } ?? "/"
        } else if target[0] == UInt8(ascii: "/") || (target.count == 1 && target[0] == UInt8(ascii: "*")) {
            path = String(decoding: target, as: UTF8.self)
        } else {
            throw .badRequest("target")
        }

        guard version.count == 8, version.begins(with: "HTTP/"), version[5] >= 0x30, version[5] <= 0x39,
            version[6] == UInt8(ascii: "."), version[7] >= 0x30, version[7] <= 0x39
        else { throw .badRequest("version") }
        guard version[5] == UInt8(ascii: "1") else { throw .versionNotSupported }
        return HTTPRequestHead(method: HTTPMethod(method), target: path, minorVersion: Int(version[7] - 0x30), headers: HTTPHeaders())
    }

    private static func decodeField(_ line: UnsafeRawBufferPointer, into headers: inout HTTPHeaders) throws(HTTPParseError) {
        if line[0] == 0x20 || line[0] == 0x09 { throw .badRequest("obsolete line folding") }
        guard let colon = ASCII.index(of: UInt8(ascii: ":"), in: line) else { throw .badRequest("header line") }
        let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        // Obsolete line folding and whitespace before the colon are refused (RFC 9112 §5.1, §5.2).
        guard !name.isEmpty, name.allSatisfy(ASCII.isTokenByte) else { throw .badRequest("header name") }
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd, line[valueStart] == 0x20 || line[valueStart] == 0x09 { valueStart += 1 }
        while valueEnd > valueStart, line[valueEnd - 1] == 0x20 || line[valueEnd - 1] == 0x09 { valueEnd -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
        guard ASCII.isFieldValue(value) else { throw .badRequest("header value") }

        switch name.count {
        case 4 where ASCII.equalsIgnoringCase(name, "host"): headers.host = text(value)
        case 6 where ASCII.equalsIgnoringCase(name, "expect"):
            if ASCII.equalsIgnoringCase(value, "100-continue") { headers.expectContinue = true }
        case 6 where ASCII.equalsIgnoringCase(name, "origin"): headers.origin = text(value)
        case 7 where ASCII.equalsIgnoringCase(name, "upgrade"):
            for token in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true)
            where ASCII.equalsIgnoringCase(ASCII.trim(UnsafeRawBufferPointer(rebasing: token)), "websocket") {
                headers.upgradeWebSocket = true
            }
        case 9 where ASCII.equalsIgnoringCase(name, "x-real-ip"): headers.realIP = text(value)
        case 10 where ASCII.equalsIgnoringCase(name, "connection"):
            for token in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) {
                let trimmed = ASCII.trim(UnsafeRawBufferPointer(rebasing: token))
                if ASCII.equalsIgnoringCase(trimmed, "close") { headers.connectionClose = true }
                if ASCII.equalsIgnoringCase(trimmed, "keep-alive") { headers.connectionKeepAlive = true }
                if ASCII.equalsIgnoringCase(trimmed, "upgrade") { headers.connectionUpgrade = true }
            }
        case 14 where ASCII.equalsIgnoringCase(name, "content-length"):
            guard !value.isEmpty, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw .badRequest("content-length") }
            // Anything with more than 9 digits is over the body limit anyway.
            let length = value.count > 9 ? Int.max : value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            if let earlier = headers.contentLength, earlier != length { throw .badRequest("conflicting content-length") }
            headers.contentLength = length
        case 15 where ASCII.equalsIgnoringCase(name, "x-worker-secret"): headers.workerSecret = Array(value)
        case 15 where ASCII.equalsIgnoringCase(name, "x-forwarded-for"): headers.forwardedFor = text(value)
        case 17 where ASCII.equalsIgnoringCase(name, "transfer-encoding"):
            guard ASCII.equalsIgnoringCase(value, "chunked"), !headers.chunked else { throw .badRequest("transfer-encoding") }
            headers.chunked = true
        case 17 where ASCII.equalsIgnoringCase(name, "sec-websocket-key"): headers.secWebSocketKey = text(value)
        case 21 where ASCII.equalsIgnoringCase(name, "sec-websocket-version"): headers.secWebSocketVersion = text(value)
        default: break
        }
    }

    // MARK: - Chunked body (RFC 9112 §7.1)

    /// Advances through chunks; true once the last chunk and trailers are complete.
    private func parseChunks(_ bytes: UnsafeRawBufferPointer, _ chunked: inout Chunked) throws(HTTPParseError) -> Bool {
        while true {
            switch chunked.phase {
            case .size:
                guard let lineEnd = findLineEnd(bytes, from: chunked.cursor, limit: HTTPLimits.maxChunkLineBytes) else {
                    if bytes.count - chunked.cursor > HTTPLimits.maxChunkLineBytes { throw .badRequest("chunk size line") }
                    return false
                }
                let line = UnsafeRawBufferPointer(rebasing: bytes[chunked.cursor..<lineEnd.contentEnd])
                let size = try Self.chunkSize(line)
                if size > HTTPLimits.maxBodyBytes - chunked.body.count { throw .payloadTooLarge }
                chunked.cursor = lineEnd.next
                chunked.phase = size == 0 ? .trailers(seen: 0) : .data(remaining: size)

            case .data(let remaining):
                let available = min(remaining, bytes.count - chunked.cursor)
                guard available > 0 else { return false }
                chunked.body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[chunked.cursor..<(chunked.cursor + available)]))
                chunked.cursor += available
                chunked.phase = remaining == available ? .dataEnd : .data(remaining: remaining - available)

            case .dataEnd:
                guard chunked.cursor < bytes.count else { return false }
                if bytes[chunked.cursor] == 0x0A {
                    chunked.cursor += 1
                } else if bytes[chunked.cursor] == 0x0D {
                    guard chunked.cursor + 1 < bytes.count else { return false }
                    guard bytes[chunked.cursor + 1] == 0x0A else { throw .badRequest("chunk data terminator") }
                    chunked.cursor += 2
                } else {
                    throw .badRequest("chunk data longer than its size")
                }
                chunked.phase = .size

            case .trailers(let seen):
                guard let lineEnd = findLineEnd(bytes, from: chunked.cursor, limit: HTTPLimits.maxHeadBytes) else {
                    if seen + bytes.count - chunked.cursor > HTTPLimits.maxHeadBytes { throw .headersTooLarge }
                    return false
                }
                let isEmpty = lineEnd.contentEnd == chunked.cursor
                let length = lineEnd.next - chunked.cursor
                chunked.cursor = lineEnd.next
                if isEmpty { return true }
                if seen + length > HTTPLimits.maxHeadBytes { throw .headersTooLarge }
                chunked.phase = .trailers(seen: seen + length)
            }
        }
    }

    private static func chunkSize(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        for byte in line {
            guard let digit = HexDigit.value(byte) else {
                guard byte == UInt8(ascii: ";") || byte == 0x20 || byte == 0x09, digits > 0 else { throw .badRequest("chunk size") }
                return size  // Chunk extensions are ignored (RFC 9112 §7.1.1).
            }
            let value = Int(digit)
            digits += 1
            // Eight hex digits already exceed the body limit; stop before overflow.
            if digits > 8 { throw .payloadTooLarge }
            size = size * 16 + value
        }
        guard digits > 0 else { throw .badRequest("chunk size") }
        return size
    }

    private func findLineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> (contentEnd: Int, next: Int)? {
        var index = start
        let stop = min(bytes.count, start + limit + 2)
        while index < stop {
            if bytes[index] == 0x0A {
                let contentEnd = index > start && bytes[index - 1] == 0x0D ? index - 1 : index
                return (contentEnd, index + 1)
            }
            index += 1
        }
        return nil
    }

    // MARK: - Bytes

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

/// Splits a head into lines ending in LF, dropping a preceding CR.
private struct LineReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    mutating func next() -> UnsafeRawBufferPointer? {
        guard position < bytes.count else { return nil }
        let end = ASCII.index(of: 0x0A, in: bytes, from: position) ?? bytes.count
        let contentEnd = end > position && bytes[end - 1] == 0x0D ? end - 1 : end
        let line = UnsafeRawBufferPointer(rebasing: bytes[position..<contentEnd])
        position = end + 1
        return line
    }
}
