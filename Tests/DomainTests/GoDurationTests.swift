// Go duration notation, both ways.
import Domain
import Testing

struct GoDurationTests {
    @Test(arguments: [(0, "0s"), (5, "5s"), (59, "59s"), (60, "1m0s"), (862, "14m22s"), (3600, "1h0m0s"), (12125, "3h22m5s"), (90000, "25h0m0s")] as [(Int64, String)])
    func formatsLikeGo(_ seconds: Int64, _ expected: String) {
        #expect(GoDuration.format(seconds: seconds) == expected)
    }

    // The strings Go's Duration.String gives for the same values.
    @Test(arguments: [
        (1_500_000_000, "1.5s"), (300_000_000, "300ms"), (60_250_000_000, "1m0.25s"), (3_000_000_000, "3s"),
        (1_500, "1.5µs"), (7, "7ns"), (3_600_000_000_001, "1h0m0.000000001s"),
    ] as [(Int64, String)])
    func formatsFractionsLikeGo(_ nanoseconds: Int64, _ expected: String) {
        #expect(GoDuration.formatExact(.nanoseconds(nanoseconds)) == expected)
    }

    @Test(arguments: [
        ("24h", 86_400_000_000_000), ("90m", 5_400_000_000_000), ("1h30m", 5_400_000_000_000),
        ("1.5h", 5_400_000_000_000), ("300ms", 300_000_000), ("2h45m30.5s", 9_930_500_000_000),
        ("0", 0), ("+5s", 5_000_000_000), ("-5s", -5_000_000_000), ("1us", 1_000), ("1µs", 1_000), ("7ns", 7),
        (".5s", 500_000_000), ("1.s", 1_000_000_000),
    ] as [(String, Int64)])
    func parsesLikeGo(_ text: String, _ nanoseconds: Int64) {
        #expect(GoDuration.parse(text)?.wholeNanoseconds == nanoseconds)
    }

    @Test(arguments: ["", "24", "h", "1x", "1hh", ".s", "1.5", "--1s", "1 h", "3000000h", "9223372036854775808ns", "10d"])
    func rejectsWhatGoRejects(_ text: String) {
        #expect(GoDuration.parse(text) == nil)
    }
}
