// Sample traffic shared by the benchmarks, shaped like what the PHP backend and browsers send.
import Adapters
import Domain

enum Fixtures {
    static let secretText = "benchmark-worker-secret-0123456789abcdef"
    static let secret = SharedSecret(secretText)!

    static let topic = TopicName("session.42")!

    /// A ~200-byte event as PHP's json_encode writes it (non-ASCII escaped as `\u`).
    static let payloadText =
        #"{"event":"qso_logged","station_id":3,"qso":{"call":"DL1ABC","band":"20m","mode":"FT8","freq":14074000,"rst_sent":"-10","rst_rcvd":"-12","time_on":"2025-05-31 12:34:56","gridsquare":"JO62qm","name":"J\u00f6rg"}}"#
    static let payload = Array(payloadText.utf8)

    /// The body of `POST /internal/publish` carrying `payload`.
    static let publishBody = Array(#"{"topic":"session.42","payload":"#.utf8) + payload + [UInt8(ascii: "}")]

    /// `expires` is 2100-01-01, so the token is still valid whenever the suite runs.
    static let claimsJSON = #"{"user_id":7,"topic":"session.42","expires":4102444800}"#

    /// Minted as docs/protocol.md "Tokens" does in PHP:
    /// `bin2hex(json_encode($claims)) . '.' . hash_hmac(...)`.
    static let token: String = {
        let signedPart = Hex.encodeLowercase(Array(Fixtures.claimsJSON.utf8))
        // Signed by the adapter being measured: the RFC 4231 tests vouch for it, and here the
        // token only has to be one the worker accepts.
        let mac = Array(signedPart.utf8).withUnsafeBytes { OpenSSLHMAC(secret: Fixtures.secret).authenticationCode(for: $0) }
        return signedPart + "." + mac.description
    }()
}
