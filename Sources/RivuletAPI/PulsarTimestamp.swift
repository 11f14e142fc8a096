/// Conversions between epoch milliseconds and the ISO-8601 text Pulsar's WebSocket API uses.
enum PulsarTimestamp {
    private static let millisPerDay: Int64 = 86_400_000

    /// Formats like Java's `ISO_OFFSET_DATE_TIME` in UTC: `2021-10-29T16:01:38.967Z`, with trailing zeros of the
    /// fraction dropped (`.84Z`) and no fraction at all on a whole second.
    static func format(epochMillis: Int64) -> String {
        var bytes: [UInt8] = []
        append(epochMillis: epochMillis, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the `format(epochMillis:)` text to `bytes`, without building a String on the delivery path.
    static func append(epochMillis: Int64, to bytes: inout [UInt8]) {
        let days = floorDivide(epochMillis, millisPerDay)
        let millisOfDay = epochMillis - days * millisPerDay
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let seconds = millisOfDay / 1000
        appendDigits(year, width: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(seconds / 3600, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(seconds / 60 % 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(seconds % 60, width: 2, to: &bytes)
        var fraction = millisOfDay % 1000
        if fraction != 0 {
            var digits = 3
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            bytes.append(UInt8(ascii: "."))
            appendDigits(fraction, width: digits, to: &bytes)
        }
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Parses `ISO_OFFSET_DATE_TIME` text (`2024-05-01T10:00:00.123+02:00`, seconds and fraction optional,
    /// `T` and `Z` in any case) into epoch milliseconds; digits of the fraction beyond milliseconds are dropped.
    static func parse(_ text: [UInt8]) -> Int64? {
        var reader = DigitReader(bytes: text)
        guard let year = reader.number(4), reader.take("-"),
            let month = reader.number(2), reader.take("-"),
            let day = reader.number(2), reader.take("T") || reader.take("t"),
            let hour = reader.number(2), reader.take(":"),
            let minute = reader.number(2)
        else { return nil }
        var second: Int64 = 0
        var millis: Int64 = 0
        if reader.take(":") {
            guard let value = reader.number(2) else { return nil }
            second = value
            if reader.take(".") {
                guard let fraction = reader.fractionMillis() else { return nil }
                millis = fraction
            }
        }
        guard let offsetSeconds = reader.offsetSeconds(), reader.atEnd else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour < 24, minute < 60, second < 60
        else { return nil }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let secondsOfDay = hour * 3600 + minute * 60 + second
        return days * millisPerDay + (secondsOfDay - offsetSeconds) * 1000 + millis
    }

    // Howard Hinnant's civil-calendar algorithms on the proleptic Gregorian calendar.
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = floorDivide(shiftedYear, 400)
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11:
            return 30
        default:
            return 31
        }
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    /// Appends a non-negative `value` in decimal, zero-padded to at least `width` digits.
    static func appendDigits(_ value: Int64, width: Int, to bytes: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var remaining = value.magnitude
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                count += 1
            } while remaining > 0
            while count < width {
                buffer[count] = UInt8(ascii: "0")
                count += 1
            }
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }
}

/// Reads the fixed-width fields of an ISO-8601 date-time.
private struct DigitReader {
    let bytes: [UInt8]
    var index = 0

    var atEnd: Bool { index == bytes.count }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    mutating func number(_ width: Int) -> Int64? {
        guard index + width <= bytes.count else { return nil }
        var value: Int64 = 0
        for _ in 0..<width {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            index += 1
        }
        return value
    }

    /// Reads one to nine fraction digits and returns them as whole milliseconds.
    mutating func fractionMillis() -> Int64? {
        var millis: Int64 = 0
        var count = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            if count < 3 { millis = millis * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
            count += 1
            index += 1
        }
        guard (1...9).contains(count) else { return nil }
        if count < 3 {
            for _ in count..<3 { millis *= 10 }
        }
        return millis
    }

    /// `Z`, `+HH:MM` or `+HH:MM:SS`, as seconds east of UTC.
    mutating func offsetSeconds() -> Int64? {
        if take("Z") || take("z") { return 0 }
        let sign: Int64
        if take("+") {
            sign = 1
        } else if take("-") {
            sign = -1
        } else {
            return nil
        }
        guard let hours = number(2), take(":"), let minutes = number(2), hours <= 18, minutes < 60 else { return nil }
        var seconds: Int64 = 0
        if take(":") {
            guard let value = number(2), value < 60 else { return nil }
            seconds = value
        }
        return sign * (hours * 3600 + minutes * 60 + seconds)
    }
}
