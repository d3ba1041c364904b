// The token's outer format: hex(claims JSON) "." hex(HMAC-SHA256(hex(claims JSON))).

/// A token split into its signed part and its signature, before anything in it is trusted.
///
/// docs/protocol.md "Tokens": `token = H + "." + S`; `S` is the lowercase hex HMAC-SHA256 of the
/// ASCII bytes of `H`. Only after the signature matches may `H` be decoded.
public struct SignedToken: Sendable {
    /// Bounded so a hostile client cannot make us hash megabytes; the 4 KiB WebSocket
    /// message limit would stop such a token anyway.
    public static let maxByteCount = 4096

    /// `H`: the hex-encoded claims, exactly the bytes that were signed.
    public let signedPart: [UInt8]
    /// `S`, parsed.
    public let signature: MAC256

    /// Splits `token`; nil when it is too long, has no dot, or the signature is not 64 lowercase hex digits.
    public init?(_ token: String) {
        // Over contiguous bytes: walking String.UTF8View indices cost 12,000 instructions a token.
        var text = token
        guard let (signedPart, signature) = text.withUTF8({ Self.split($0) }) else { return nil }
        self.signedPart = signedPart
        self.signature = signature
    }

    private static func split(_ utf8: UnsafeBufferPointer<UInt8>) -> ([UInt8], MAC256)? {
        guard utf8.count <= maxByteCount, let dot = utf8.lastIndex(of: UInt8(ascii: ".")), dot > 0 else { return nil }
        guard let signature = MAC256(lowercaseHex: UnsafeBufferPointer(rebasing: utf8[(dot + 1)...])) else { return nil }
        return (Array(utf8[..<dot]), signature)
    }

    /// The claims JSON, once the signature has been checked; nil when `H` is not lowercase hex.
    public func claimsJSON() -> [UInt8]? {
        Hex.decodeLowercase(signedPart)
    }
}
