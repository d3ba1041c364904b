// RFC 3339 timestamps as Go's time.Time writes and reads them in JSON.
public import Domain

/// Formats and parses `2026-12-07T04:13:57.123456789Z` and `…+02:00`, the form of Go's
/// `time.RFC3339Nano` that `encoding/json` uses for `time.Time`.
public enum RFC3339 {
    /// The longest text `parse` reads: a date, a time, nine fraction digits and an offset, with
    /// room for longer fractions (Go reads them and drops the digits past nanoseconds).
    public static let maxLength = 64

    /// Go's `RFC3339Nano`: the fraction without trailing zeros (none when zero), `Z` for UTC.
    public static func format(_ time: WallTime) -> String {
        let local = time.seconds &+ Int64(time.utcOffsetSeconds)
        let days = floorDivide(local, 86_400)
        let secondOfDay = local - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        text += "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if time.nanoseconds > 0 {
            var fraction = pad(Int64(time.nanoseconds), 9)
            while fraction.last == "0" { fraction.removeLast() }
            text += "." + fraction
        }
        if time.utcOffsetSeconds == 0 { return text + "Z" }
        let offset = Int64(time.utcOffsetSeconds)
        let magnitude = abs(offset)
        return text + (offset < 0 ? "-" : "+") + pad(magnitude / 3600, 2) + ":" + pad(magnitude / 60 % 60, 2)
    }

    /// Reads the strict form Go's JSON decoding of `time.Time` accepts: `YYYY-MM-DDTHH:MM:SS`,
    /// an optional `.` and at least one digit, then `Z` or `±HH:MM`. Nil for anything else,
    /// including a day that the month does not have and an offset of 24 hours or more.
    public static func parse(_ bytes: some Collection<UInt8>) -> WallTime? {
        let text = Array(bytes.prefix(maxLength + 1))
        guard text.count <= maxLength, text.count >= 20 else { return nil }
        guard let year = digits(text, 0, 4), text[4] == UInt8(ascii: "-"), let month = digits(text, 5, 2), text[7] == UInt8(ascii: "-"),
            let day = digits(text, 8, 2), text[10] == UInt8(ascii: "T"), let hour = digits(text, 11, 2), text[13] == UInt8(ascii: ":"),
            let minute = digits(text, 14, 2), text[16] == UInt8(ascii: ":"), let second = digits(text, 17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60, second < 60 else { return nil }
        var index = 19
        var nanoseconds: Int64 = 0
        if text[index] == UInt8(ascii: ".") {
            index += 1
            var count = 0
            while index < text.count, let digit = digit(text[index]) {
                if count < 9 { nanoseconds = nanoseconds * 10 + digit }
                count += 1
                index += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 9) { nanoseconds *= 10 }
        }
        var offset: Int64 = 0
        guard index < text.count else { return nil }
        if text[index] == UInt8(ascii: "Z") {
            index += 1
        } else {
            guard text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-"), index + 6 == text.count,
                let offsetHours = digits(text, index + 1, 2), text[index + 3] == UInt8(ascii: ":"), let offsetMinutes = digits(text, index + 4, 2),
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offset = (offsetHours * 3600 + offsetMinutes * 60) * (text[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 6
        }
        guard index == text.count else { return nil }
        let local = days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        return WallTime(seconds: local - offset, nanoseconds: Int32(nanoseconds), utcOffsetSeconds: Int32(offset))
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, days since 1970-01-01)

    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : (value - divisor + 1) / divisor
    }

    private static func digit(_ byte: UInt8) -> Int64? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int64(byte - UInt8(ascii: "0")) : nil
    }

    private static func digits(_ text: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        guard start + count <= text.count else { return nil }
        var value: Int64 = 0
        for index in start..<(start + count) {
            guard let digit = digit(text[index]) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
