// Signatures of the Pusher protocol: channel authorisations, sign-ins and HTTP API requests.
internal import Domain

/// HMAC-SHA256 under one app's secret, as lowercase hex, compared in constant time.
struct PusherSigner: Sendable {
    private let hmac: OpenSSLHMAC

    init(secret: String) {
        hmac = OpenSSLHMAC(keyBytes: Array(secret.utf8))
    }

    func hexSignature(of message: String) -> String {
        var message = message
        let code = message.withUTF8 { hmac.authenticationCode(for: UnsafeRawBufferPointer($0)) }
        return Hex.encodeLowercase(code.bytes)
    }

    /// Whether `signature` (hex, either case) is the signature of `message`.
    func isSignature(_ signature: Substring, of message: String) -> Bool {
        let expected = hexSignature(of: message)
        return ConstantTime.equals(Array(signature.lowercased().utf8), Array(expected.utf8))
    }

    /// A channel or sign-in `auth`: `<key>:<hex signature of message>`.
    func isAuth(_ auth: String, key: String, of message: String) -> Bool {
        guard let colon = auth.firstIndex(of: ":"), auth[..<colon] == key else { return false }
        return isSignature(auth[auth.index(after: colon)...], of: message)
    }
}
