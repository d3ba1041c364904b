// The byte classes of the HTTP parser against their definitions in RFC 9110.
@testable import Adapters
import Testing
import TestSupport

struct ASCIITests {
    @Test func tokenBytesAreExactlyRFC9110Tchar() {
        let tchar = Set(Array("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8))
        for byte in UInt8.min...UInt8.max {
            #expect(ASCII.isTokenByte(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test func everyByteIsJudgedAsAFieldValueByteAtEveryOffsetOfTheWord() {
        for byte in UInt8.min...UInt8.max {
            let allowed = byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
            for offset in 0..<17 {
                let value = [UInt8](repeating: UInt8(ascii: "v"), count: offset) + [byte] + [UInt8](repeating: UInt8(ascii: "w"), count: 9)
                #expect(value.withUnsafeBytes { ASCII.isFieldValue($0) } == allowed, "byte \(byte) after \(offset)")
            }
        }
        #expect([UInt8]().withUnsafeBytes { ASCII.isFieldValue($0) })
    }

    @Test func memchrFindsTheFirstByteFromTheGivenOffset() {
        let bytes = Array("a:b:c".utf8)
        bytes.withUnsafeBytes { raw in
            #expect(ASCII.index(of: UInt8(ascii: ":"), in: raw) == 1)
            #expect(ASCII.index(of: UInt8(ascii: ":"), in: raw, from: 2) == 3)
            #expect(ASCII.index(of: UInt8(ascii: ":"), in: raw, from: 4) == nil)
            #expect(ASCII.index(of: UInt8(ascii: ":"), in: raw, from: 5) == nil)
        }
        #expect([UInt8]().withUnsafeBytes { ASCII.index(of: 0, in: $0) } == nil)
    }
}
