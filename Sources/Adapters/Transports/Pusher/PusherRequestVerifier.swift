// Verifying a Pusher HTTP API request: key, timestamp, version, body checksum, signature.
internal import Domain

/// A refused API request: the status and the message of its JSON error body.
public struct PusherAPIError: Error, Equatable {
    public let status: Int
    public let message: String
}

/// The checks of the Pusher REST API's authentication, in its order: the query's `auth_key`
/// names the app, `auth_timestamp` is within 600 s of now, `auth_version` is `1.0`, `body_md5`
/// is the body's MD5 (required with a body; checked on GET too, where the SDKs send the MD5 of
/// nothing), and `auth_signature` is the HMAC-SHA256 of `METHOD\npath\nquery` with the query's
/// other parameters lower-cased, sorted and joined as `k=v&...`. Bounded: the request head
/// limit bounds the query, and at most 64 parameters are read.
public enum PusherRequestVerifier {
    static let maxClockSkewSeconds: Int64 = 600
    static let maxParameters = 64

    /// The query's parameters, percent-decoded, keys lower-cased; nil when malformed.
    public static func parameters(_ query: Substring) -> [(key: String, value: String)]? {
        var result: [(key: String, value: String)] = []
        for pair in query.split(separator: "&") {
            guard result.count < maxParameters else { return nil }
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentDecoding.decode(parts[0]),
                let value = parts.count == 2 ? PercentDecoding.decode(parts[1]) : "",
                // Decoded, a separator would let one signed string stand for other parameters.
                !key.contains("&"), !key.contains("="), !value.contains("&"), !value.contains("=")
            else { return nil }
            result.append((key.lowercased(), value))
        }
        return result
    }

    /// Checks the request against `app`. `appForKey` finds the app when the path names none.
    public static func verify(
        method: String, path: Substring, query: Substring, body: [UInt8], app: PusherApp, now: Int64
    ) -> Result<[String: String], PusherAPIError> {
        guard let parameters = parameters(query) else { return .failure(PusherAPIError(status: 400, message: "Malformed query string")) }
        var byKey: [String: String] = [:]
        for (key, value) in parameters { byKey[key] = value }
        guard let key = byKey["auth_key"], key == app.key else {
            return .failure(PusherAPIError(status: 401, message: "Unknown auth_key"))
        }
        guard let timestampText = byKey["auth_timestamp"], let timestamp = Int64(timestampText) else {
            return .failure(PusherAPIError(status: 401, message: "Missing auth_timestamp"))
        }
        // Compared without a subtraction: any Int64 may arrive, and none may overflow.
        guard timestamp >= now - maxClockSkewSeconds, timestamp <= now + maxClockSkewSeconds else {
            return .failure(PusherAPIError(status: 401, message: "Timestamp expired: given \(timestamp), now \(now)"))
        }
        guard byKey["auth_version"] == "1.0" else {
            return .failure(PusherAPIError(status: 401, message: "auth_version must be 1.0"))
        }
        let digest = body.withUnsafeBytes { Hex.encodeLowercase(OpenSSLDigest.md5($0)) }
        if let md5 = byKey["body_md5"] {
            guard md5.lowercased() == digest else { return .failure(PusherAPIError(status: 401, message: "body_md5 does not match the body")) }
        } else if !body.isEmpty {
            return .failure(PusherAPIError(status: 401, message: "Missing body_md5"))
        }
        guard let signature = byKey["auth_signature"] else {
            return .failure(PusherAPIError(status: 401, message: "Missing auth_signature"))
        }
        let signed = parameters.filter { $0.key != "auth_signature" }
            .sorted { $0.key == $1.key ? $0.value < $1.value : $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        guard app.signer.isSignature(Substring(signature), of: "\(method)\n\(path)\n\(signed)") else {
            return .failure(PusherAPIError(status: 401, message: "Invalid signature"))
        }
        return .success(byKey)
    }
}
