// Go's duration notation (`90m`, `1h30m`, `3h22m5s`), which configs and dashboards already use.

/// Parses and formats durations the way Go's `time` package does.
public enum GoDuration {
    /// Formats whole seconds as Go's `Duration.String` does: `0s`, `5s`, `14m22s`, `3h22m5s`, `1h0m0s`.
    public static func format(seconds: Int64) -> String {
        guard seconds > 0 else { return seconds == 0 ? "0s" : "-" + format(seconds: seconds == .min ? .max : -seconds) }
        let hours = seconds / 3600
        let minutes = (seconds % 3600) / 60
        let secs = seconds % 60
        if hours > 0 { return "\(hours)h\(minutes)m\(secs)s" }
        if minutes > 0 { return "\(minutes)m\(secs)s" }
        return "\(secs)s"
    }

    /// Formats a duration rounded down to whole seconds.
    public static func format(_ duration: Duration) -> String {
        format(seconds: duration.wholeSeconds)
    }

    /// Formats a duration with its fraction, as Go's `Duration.String` does: `1.5s`, `300ms`,
    /// `1m0.25s`. A configured `1500ms` shown as `1s` would misstate the setting.
    public static func formatExact(_ duration: Duration) -> String {
        let parts = duration.components
        let nanoseconds = parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
        guard nanoseconds > 0, nanoseconds % 1_000_000_000 != 0 else { return format(duration) }
        if nanoseconds < 1_000 { return "\(nanoseconds)ns" }
        if nanoseconds < 1_000_000 { return decimal(nanoseconds, unit: 1_000, digits: 3) + "µs" }
        if nanoseconds < 1_000_000_000 { return decimal(nanoseconds, unit: 1_000_000, digits: 6) + "ms" }
        let whole = format(seconds: nanoseconds / 1_000_000_000)
        return whole.dropLast() + decimal(nanoseconds % 1_000_000_000, unit: 1_000_000_000, digits: 9).dropFirst() + "s"
    }

    // `value / unit` with its fraction, trailing zeros dropped.
    private static func decimal(_ value: Int64, unit: Int64, digits: Int) -> String {
        var fraction = String(value % unit)
        fraction = String(repeating: "0", count: digits - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return "\(value / unit)" + (fraction.isEmpty ? "" : "." + fraction)
    }

    /// Parses Go's `time.ParseDuration` syntax: an optional sign, then one or more
    /// `<decimal><unit>` pairs with units `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`; or a bare `0`.
    /// Returns nil for anything else, including overflow past ±292 years.
    public static func parse(_ text: String) -> Duration? {
        var scalars = Array(text.unicodeScalars)[...]
        var negative = false
        if let sign = scalars.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            scalars = scalars.dropFirst()
        }
        if scalars.count == 1, scalars.first == "0" { return .zero }
        guard !scalars.isEmpty else { return nil }

        var total: Int64 = 0
        while !scalars.isEmpty {
            guard let (nanos, rest) = parseComponent(scalars) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(nanos)
            guard !overflow else { return nil }
            total = sum
            scalars = rest
        }
        return .nanoseconds(negative ? -total : total)
    }

    // One `<integer>[.<fraction>]<unit>` pair, in nanoseconds.
    private static func parseComponent(
        _ input: ArraySlice<Unicode.Scalar>
    ) -> (Int64, ArraySlice<Unicode.Scalar>)? {
        var rest = input
        var whole: Int64 = 0
        var sawDigit = false
        while let scalar = rest.first, let digit = decimalValue(scalar) {
            let (shifted, o1) = whole.multipliedReportingOverflow(by: 10)
            let (sum, o2) = shifted.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            whole = sum
            sawDigit = true
            rest = rest.dropFirst()
        }
        var fraction: Int64 = 0
        var fractionScale: Int64 = 1
        if rest.first == "." {
            rest = rest.dropFirst()
            while let scalar = rest.first, let digit = decimalValue(scalar) {
                sawDigit = true
                // Digits past nanosecond precision of an hour cannot change the result.
                if fractionScale < 1_000_000_000_000_000 {
                    fraction = fraction * 10 + digit
                    fractionScale *= 10
                }
                rest = rest.dropFirst()
            }
        }
        guard sawDigit else { return nil }

        var unitEnd = rest.startIndex
        while unitEnd < rest.endIndex, rest[unitEnd] != ".", decimalValue(rest[unitEnd]) == nil {
            unitEnd += 1
        }
        let unit = String(String.UnicodeScalarView(rest[rest.startIndex..<unitEnd]))
        guard let scale = unitNanoseconds[unit] else { return nil }
        rest = rest[unitEnd...]

        let (wholeNanos, o3) = whole.multipliedReportingOverflow(by: scale)
        guard !o3 else { return nil }
        // fraction / fractionScale of one unit, computed without overflow.
        let fractionNanos = Int64((Double(fraction) / Double(fractionScale)) * Double(scale))
        let (sum, o4) = wholeNanos.addingReportingOverflow(fractionNanos)
        guard !o4 else { return nil }
        return (sum, rest)
    }

    private static func decimalValue(_ scalar: Unicode.Scalar) -> Int64? {
        scalar.value >= 0x30 && scalar.value <= 0x39 ? Int64(scalar.value - 0x30) : nil
    }

    private static let unitNanoseconds: [String: Int64] = [
        "ns": 1,
        "us": 1_000, "\u{00B5}s": 1_000, "\u{03BC}s": 1_000,
        "ms": 1_000_000,
        "s": 1_000_000_000,
        "m": 60_000_000_000,
        "h": 3_600_000_000_000,
    ]
}
