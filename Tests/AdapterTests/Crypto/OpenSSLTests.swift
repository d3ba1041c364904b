// Real OpenSSL: RFC 4231 HMAC-SHA256 vectors, SHA-1, random bytes.
import Adapters
import Domain
import Testing

struct OpenSSLTests {
    static let rfc4231: [(key: [UInt8], data: [UInt8], mac: String)] = [
        ([UInt8](repeating: 0x0B, count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xAA, count: 20), [UInt8](repeating: 0xDD, count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (Array(1...25), [UInt8](repeating: 0xCD, count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        ([UInt8](repeating: 0xAA, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        ([UInt8](repeating: 0xAA, count: 131),
         Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test(arguments: 0..<rfc4231.count)
    func hmacMatchesRFC4231(_ number: Int) {
        let vector = Self.rfc4231[number]
        let mac = vector.data.withUnsafeBytes { OpenSSLHMAC(keyBytes: vector.key).authenticationCode(for: $0) }
        #expect(mac.description == vector.mac)
    }

    @Test func hmacTruncatedVectorOfRFC4231Case5() {
        let mac = Array("Test With Truncation".utf8).withUnsafeBytes {
            OpenSSLHMAC(keyBytes: [UInt8](repeating: 0x0C, count: 20)).authenticationCode(for: $0)
        }
        #expect(mac.description.prefix(32) == "a3b6167473100ee06e0c796c2955552b")
    }

    @Test func hmacOfEmptyMessage() {
        let mac = [UInt8]().withUnsafeBytes { OpenSSLHMAC(keyBytes: Array("key".utf8)).authenticationCode(for: $0) }
        #expect(mac.description == "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0")
    }

    @Test func sha1OfABC() {
        let digest = Array("abc".utf8).withUnsafeBytes { OpenSSLDigest.sha1($0) }
        #expect(Hex.encodeLowercase(digest) == "a9993e364706816aba3e25717850c26c9cd0d89d")
    }

    @Test func randomBytesDiffer() throws {
        let first = try #require(OpenSSLDigest.randomBytes(count: 16))
        let second = try #require(OpenSSLDigest.randomBytes(count: 16))
        #expect(first.count == 16)
        #expect(first != second)
    }
}
