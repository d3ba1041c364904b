// RFC 3339 timestamps as Go's encoding/json writes and reads time.Time.
import Adapters
import Domain
import Testing

struct RFC3339Tests {
    // Values checked against Go: time.Unix(s, ns).UTC().Format(time.RFC3339Nano).
    @Test(arguments: [
        (0, 0, 0, "1970-01-01T00:00:00Z"),
        (1_796_616_837, 123_456_789, 0, "2026-12-07T04:13:57.123456789Z"),
        (1_796_616_837, 500_000_000, 0, "2026-12-07T04:13:57.5Z"),
        (1_796_616_837, 1_000, 0, "2026-12-07T04:13:57.000001Z"),
        (1_796_616_837, 0, 7200, "2026-12-07T06:13:57+02:00"),
        (1_796_616_837, 0, -34_200, "2026-12-06T18:43:57-09:30"),
        (951_782_400, 0, 0, "2000-02-29T00:00:00Z"),
        (-62_135_596_800, 0, 0, "0001-01-01T00:00:00Z"),
        (253_402_300_799, 999_999_999, 0, "9999-12-31T23:59:59.999999999Z"),
    ] as [(Int64, Int32, Int32, String)])
    func formatsAndParsesLikeGo(_ seconds: Int64, _ nanoseconds: Int32, _ offset: Int32, _ text: String) {
        let time = WallTime(seconds: seconds, nanoseconds: nanoseconds, utcOffsetSeconds: offset)
        #expect(RFC3339.format(time) == text)
        #expect(RFC3339.parse(Array(text.utf8)) == time)
    }

    @Test func readsFractionsOfAnyLengthToTheNanosecond() {
        #expect(RFC3339.parse(Array("2026-12-07T04:13:57.1Z".utf8))?.nanoseconds == 100_000_000)
        #expect(RFC3339.parse(Array("2026-12-07T04:13:57.1234567891234Z".utf8))?.nanoseconds == 123_456_789)
        #expect(RFC3339.parse(Array("2026-12-07T04:13:57.000000000Z".utf8))?.nanoseconds == 0)
    }

    @Test(arguments: [
        "", "2026-12-07", "2026-12-07T04:13:57", "2026-12-07 04:13:57Z", "2026-12-07t04:13:57Z", "2026-12-07T04:13:57z",
        "2026-12-07T04:13:57.Z", "2026-13-07T04:13:57Z", "2026-00-07T04:13:57Z", "2026-02-29T04:13:57Z", "2100-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-12-07T24:00:00Z", "2026-12-07T23:60:00Z", "2026-12-07T23:59:60Z", "2026-12-07T04:13:57+0200",
        "2026-12-07T04:13:57+24:00", "2026-12-07T04:13:57+02:60", "2026-12-07T04:13:57+02:00 ", "+2026-12-07T04:13:57Z",
        "2026-12-07T04:13:57ZZ", "2026-1-07T04:13:57Z", "２026-12-07T04:13:57Z",
    ])
    func refusesWhatGoRefuses(_ text: String) {
        #expect(RFC3339.parse(Array(text.utf8)) == nil, "\(text)")
    }

    @Test func everyTruncationOfAValidTimeIsRefused() {
        for text in ["2026-12-07T04:13:57.123456789Z", "2026-12-07T06:13:57+02:00"] {
            let bytes = Array(text.utf8)
            for length in 0..<bytes.count {
                #expect(RFC3339.parse(bytes.prefix(length)) == nil, "\(String(decoding: bytes.prefix(length), as: UTF8.self))")
            }
        }
    }

    @Test func aLongInputIsRefusedWithoutReadingAllOfIt() {
        let long = Array("2026-12-07T04:13:57.".utf8) + [UInt8](repeating: UInt8(ascii: "1"), count: 1 << 20) + [UInt8(ascii: "Z")]
        #expect(RFC3339.parse(long) == nil)
    }

    @Test func randomInstantsSurviveTheRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let time = WallTime(
                seconds: Int64.random(in: -62_135_510_400...253_402_214_399, using: &generator),
                nanoseconds: Int32.random(in: 0..<1_000_000_000, using: &generator),
                utcOffsetSeconds: Int32.random(in: -86_399...86_399, using: &generator) / 60 * 60)
            let text = RFC3339.format(time)
            guard let parsed = RFC3339.parse(Array(text.utf8)) else {
                Issue.record("not read back: \(text) from \(time)")
                continue
            }
            #expect(parsed == time, "\(text)")
        }
    }
}
