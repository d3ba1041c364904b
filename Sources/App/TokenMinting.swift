// The `token` command: a token exactly as the backend's Worker.php mints it.
import Adapters
import Domain
import Glibc

/// `bin2hex(json_encode($claims)) . '.' . hash_hmac('sha256', $h, $secret)` (docs/protocol.md
/// "Tokens"), with PHP's default `json_encode` escaping, so the same claims give the same token.
enum TokenMinting {
    static func mint(topic: String, userID: Int64, ttl: Duration, secret: SharedSecret, now: Int64 = Int64(time(nil))) -> String? {
        guard TopicName(topic) != nil else { return nil }
        let expires = now + ttl.components.seconds
        let claims = "{\"user_id\":\(userID),\"topic\":\(phpJSONString(topic)),\"expires\":\(expires)}"
        let head = Hex.encodeLowercase(Array(claims.utf8))
        let mac = Array(head.utf8).withUnsafeBytes { OpenSSLHMAC(secret: secret).authenticationCode(for: $0) }
        return head + "." + mac.description
    }

    /// PHP's `json_encode` of a string with default flags: `/` as `\/`, every non-ASCII
    /// character as lowercase `\uXXXX` (UTF-16, so surrogate pairs above U+FFFF).
    static func phpJSONString(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x2F: out += "\\/"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
