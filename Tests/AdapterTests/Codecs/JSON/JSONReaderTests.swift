// Field ranges, scalar decoding and the claims decoder.
import Adapters
import Domain
import Testing

struct JSONReaderTests {
    func withFields<T>(_ text: String, _ body: (JSONObjectFields) throws -> T) throws -> T {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { try body(try JSONObjectFields($0)) }
    }

    @Test func returnsRawValueBytesWithoutReserialising() throws {
        let body = #"{"topic":"session.42","payload": { "b" : [1, 2.50, "\u00e9"] } , "x":null}"#
        try withFields(body) { object in
            let payload = try #require(object["payload"])
            #expect(String(decoding: object.rawValue(payload), as: UTF8.self) == #"{ "b" : [1, 2.50, "\u00e9"] }"#)
            #expect(payload.kind == .object)
            #expect(object.string(object["topic"]!) == "session.42")
            #expect(object["x"]?.kind == .null)
            #expect(object["missing"] == nil)
        }
    }

    @Test func aSpecialByteIsSeenAtEveryOffsetOfTheWordAtATimeScan() {
        // Each special byte, and each byte just beside the ranges the scan tests for, after 0 to
        // 19 plain characters and before a few more.
        let cases: [([UInt8], Bool)] = [
            ([0x5C, 0x6E], true), ([0x5C, 0x75, 0x30, 0x30, 0x34, 0x31], true), ([0x5C, 0x71], false), ([0x01], false),
            ([0x1F], false), ([0x20], true), ([0x21], true), ([0x23], true), ([0x5B], true), ([0x5D], true), ([0x7F], true),
            ([0xC3, 0xA9], true), ([0xC3], false), ([0xFF], false), ([0xED, 0xA0, 0x80], false), ([0x22], false),
        ]
        for (special, valid) in cases {
            for offset in 0..<20 {
                for tail in [0, 3, 9] {
                    let text = [0x22] + [UInt8](repeating: 0x61, count: offset) + special + [UInt8](repeating: 0x62, count: tail) + [0x22]
                    let accepted = text.withUnsafeBufferPointer { (try? JSONReader.validate($0)) == .string }
                    #expect(accepted == valid, "\(special) after \(offset) plain bytes, \(tail) after")
                    // A control byte further on is still seen after the special byte was passed.
                    let later = [0x22] + [UInt8](repeating: 0x61, count: offset) + special + [UInt8](repeating: 0x62, count: tail) + [0x01, 0x22]
                    #expect(later.withUnsafeBufferPointer { (try? JSONReader.validate($0)) == nil }, "\(special), then a control byte")
                }
            }
        }
    }

    @Test func lastDuplicateKeyWins() throws {
        try withFields(#"{"topic":"a","topic":"b"}"#) { #expect($0.string($0["topic"]!) == "b") }
    }

    @Test func escapedKeysAreMatchedAfterDecoding() throws {
        try withFields(#"{"t\u006fpic":"x"}"#) { #expect($0.string($0["topic"]!) == "x") }
    }

    @Test func unescapesStringsIncludingSurrogatePairs() throws {
        try withFields(#"{"s":"a\"b\\c\/d\n\u00e9\ud83d\ude00\ud800x"}"#) { object in
            #expect(object.string(object["s"]!) == "a\"b\\c/d\né😀\u{FFFD}x")
        }
    }

    @Test(arguments: [("0", 0), ("-12", -12), ("9223372036854775807", .max), ("-9223372036854775808", .min)] as [(String, Int64)])
    func readsIntegers(_ text: String, _ value: Int64) throws {
        try withFields("{\"n\":\(text)}") { #expect($0.int64($0["n"]!) == value) }
    }

    @Test(arguments: ["1.0", "1e3", "9223372036854775808", "-9223372036854775809", "\"1\""])
    func refusesNonIntegers(_ text: String) throws {
        try withFields("{\"n\":\(text)}") { #expect($0.int64($0["n"]!) == nil) }
    }

    @Test(arguments: ["[1]", "\"s\"", "1", "null"])
    func objectFieldsRefusesOtherValues(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(throws: JSONError(kind: .notAnObject, offset: 0)) {
            try bytes.withUnsafeBufferPointer { _ = try JSONObjectFields($0) }
        }
    }

    @Test(arguments: ["", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{'a':1}", "{\"a\":\"\u{1}\"}", "{\"a\":01}"])
    func objectFieldsRefusesBrokenJSON(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(throws: JSONError.self) { try bytes.withUnsafeBufferPointer { _ = try JSONObjectFields($0) } }
    }

    @Test func refusesInvalidUTF8InStrings() {
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF]] {
            let bytes = Array("{\"a\":\"".utf8) + bad + Array("\"}".utf8)
            #expect(throws: JSONError.self) { try bytes.withUnsafeBufferPointer { _ = try JSONObjectFields($0) } }
        }
    }

    @Test func claimsDecoderReadsTypedFields() {
        let decoder = JSONClaimsDecoder()
        let fields = decoder.decodeClaims(Array(#"{"user_id":7,"topic":"s.1","session_id":"42","expires":1.5,"extra":[1]}"#.utf8))
        #expect(fields == ClaimFields(userID: .integer(7), topic: .string("s.1"), sessionID: .string("42"), expires: .other))
        #expect(decoder.decodeClaims(Array(#"{"user_id":null,"topic":"s"}"#.utf8)) == ClaimFields(topic: .string("s")))
        #expect(decoder.decodeClaims(Array("[1]".utf8)) == nil)
        #expect(decoder.decodeClaims(Array(#"{"a":[[[[[[[[[[1]]]]]]]]]]}"#.utf8)) == nil)
    }
}
