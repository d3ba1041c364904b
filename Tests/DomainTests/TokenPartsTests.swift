// Hex, MAC values, constant-time comparison, and the token's outer format.
import Domain
import Testing

struct TokenPartsTests {
    let sampleHex = "b74bcf25fd49bedb3ca7a8f5140404c1a0a9990c5f7e092687be03530d21279f"

    @Test func macRoundTripsThroughLowercaseHex() {
        let mac = MAC256(lowercaseHex: Array(sampleHex.utf8))
        #expect(mac?.description == sampleHex)
    }

    @Test func macRejectsUppercaseAndWrongLengths() {
        #expect(MAC256(lowercaseHex: Array(sampleHex.uppercased().utf8)) == nil)
        #expect(MAC256(lowercaseHex: Array(sampleHex.dropLast().utf8)) == nil)
        #expect(MAC256(lowercaseHex: Array((sampleHex + "0").utf8)) == nil)
    }

    @Test func macsDifferingInAnyWordAreUnequal() {
        let base = MAC256(words: (1, 2, 3, 4))
        #expect(base == MAC256(words: (1, 2, 3, 4)))
        #expect(base != MAC256(words: (0, 2, 3, 4)))
        #expect(base != MAC256(words: (1, 2, 3, 5)))
    }

    @Test func constantTimeEqualsComparesContentAndLength() {
        #expect(ConstantTime.equals(Array("secret".utf8), Array("secret".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secreT".utf8)))
        #expect(!ConstantTime.equals(Array("secret".utf8), Array("secret!".utf8)))
        #expect(!ConstantTime.equals(Array("secret!".utf8), Array("secret".utf8)))
        #expect(ConstantTime.equals([UInt8](), [UInt8]()))
    }

    /// Arrays take the contiguous fast path, lazy views the generic walk; both follow one rule.
    @Test(arguments: ["", "s", "secret", "secreT", "secret!", "xsecret"])
    func constantTimeEqualsAgreesOnBothPaths(other: String) {
        let secret = Array("secret".utf8)
        let expected = secret == Array(other.utf8)
        #expect(ConstantTime.equals(secret, Array(other.utf8)) == expected)
        #expect(ConstantTime.equals(secret.lazy.map { $0 }, Array(other.utf8).lazy.map { $0 }) == expected)
        #expect(ConstantTime.equals(Array(other.utf8), secret) == expected)
    }

    @Test func sharedSecretNeedsThirtyTwoCharactersAndNeverMatchesEmpty() {
        #expect(SharedSecret(String(repeating: "s", count: 31)) == nil)
        let secret = SharedSecret(String(repeating: "s", count: 32))!
        #expect(secret.matches(Array(String(repeating: "s", count: 32).utf8)))
        #expect(!secret.matches([UInt8]()))
        #expect("\(secret)" == "<redacted>")
    }

    @Test func hexDecodingIsLowercaseOnly() {
        #expect(Hex.decodeLowercase(Array("7b7d".utf8)) == [0x7B, 0x7D])
        #expect(Hex.decodeLowercase(Array("7B7D".utf8)) == nil)
        #expect(Hex.decodeLowercase(Array("7b7".utf8)) == nil)
        #expect(Hex.encodeLowercase([0x00, 0xAB, 0xFF]) == "00abff")
    }

    @Test func signedTokenSplitsAtTheLastDot() throws {
        let token = try #require(SignedToken("7b7d.\(sampleHex)"))
        #expect(token.signedPart == Array("7b7d".utf8))
        #expect(token.claimsJSON() == Array("{}".utf8))
    }

    @Test(arguments: ["", "nodot", ".abc", "7b7d.", "7b7d.XYZ", String(repeating: "a", count: 5000) + ".00"])
    func signedTokenRejectsMalformedShapes(_ token: String) {
        #expect(SignedToken(token) == nil)
    }

    @Test func signedTokenRefusesOversizeInput() {
        let header = String(repeating: "ab", count: SignedToken.maxByteCount / 2)
        #expect(SignedToken(header + "." + sampleHex) == nil)
    }
}
