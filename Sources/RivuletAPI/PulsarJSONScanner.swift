/// A JSON value that is not a container, as read by `PulsarJSONScanner`.
enum PulsarJSONScalar: Equatable {
    /// Decoded UTF-8 bytes of a string.
    case string([UInt8])
    /// The number's text exactly as sent (`1.50` stays `1.50`).
    case number([UInt8])
    case bool(Bool)
    case null

    /// The value as Jackson coerces a scalar into a string field: numbers and booleans keep their text, null is nil.
    var coercedText: [UInt8]? {
        switch self {
        case .string(let bytes), .number(let bytes): bytes
        case .bool(let value): Array((value ? "true" : "false").utf8)
        case .null: nil
        }
    }
}

/// A JSON syntax error: the reason and the byte offset where reading stopped.
struct PulsarJSONError: Error, Equatable {
    var message: String
    var offset: Int
}

/// A pull scanner over UTF-8 JSON for the fixed Pulsar frames.
///
/// Hand-written because Foundation's decoders cost far more per frame than the publish path can spend. It reads
/// any valid JSON (RFC 8259): callers pick the members they know and skip every other value. The transport has
/// already checked that text frames are valid UTF-8, so raw bytes inside strings pass through unchanged.
struct PulsarJSONScanner {
    /// Containers nested deeper than this are rejected, so hostile frames cannot exhaust memory.
    static let maxDepth = 512

    private let bytes: [UInt8]
    private(set) var index = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// True when the next non-whitespace byte opens an object.
    mutating func atObjectStart() -> Bool {
        skipWhitespace()
        return index < bytes.count && bytes[index] == UInt8(ascii: "{")
    }

    mutating func beginObject() throws(PulsarJSONError) {
        try expect(UInt8(ascii: "{"), "expected '{'")
    }

    /// Reads the next member's key and its colon; returns nil after the closing brace.
    /// `first` tracks whether a comma must come before the key. A key without escapes is a slice of the frame.
    mutating func nextMemberKey(first: inout Bool) throws(PulsarJSONError) -> ArraySlice<UInt8>? {
        skipWhitespace()
        guard index < bytes.count else { throw failure("unterminated object") }
        if bytes[index] == UInt8(ascii: "}") {
            index += 1
            return nil
        }
        if !first {
            try expect(UInt8(ascii: ","), "expected ',' or '}'")
            skipWhitespace()
        }
        first = false
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a member name") }
        let key = try readStringSlice()
        try expect(UInt8(ascii: ":"), "expected ':'")
        return key
    }

    /// Checks that only whitespace follows the top-level value.
    mutating func expectEnd() throws(PulsarJSONError) {
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected content after the JSON value") }
    }

    /// Reads a scalar, or skips an object or array and returns nil.
    mutating func readScalarOrSkip() throws(PulsarJSONError) -> PulsarJSONScalar? {
        skipWhitespace()
        guard index < bytes.count else { throw failure("missing value") }
        switch bytes[index] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try skipValue()
            return nil
        default:
            return try readScalar()
        }
    }

    /// Reads one string, number, boolean or null; a container is an error.
    mutating func readScalar() throws(PulsarJSONError) -> PulsarJSONScalar {
        skipWhitespace()
        guard index < bytes.count else { throw failure("missing value") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try readNumber())
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            throw failure("expected a string, number, boolean or null")
        default:
            throw failure("invalid value")
        }
    }

    /// Skips one complete value of any kind, checking its syntax.
    mutating func skipValue() throws(PulsarJSONError) {
        // Each entry is the closing byte of an open container; an explicit stack keeps deep nesting off the call stack.
        var open: [UInt8] = []
        var expectingValue = true
        while true {
            if !expectingValue && open.isEmpty { return }
            skipWhitespace()
            guard index < bytes.count else { throw failure("unterminated value") }
            let byte = bytes[index]
            if expectingValue {
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                    guard open.count < PulsarJSONScanner.maxDepth else { throw failure("nesting deeper than \(PulsarJSONScanner.maxDepth)") }
                    index += 1
                    skipWhitespace()
                    let closing = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                    if index < bytes.count, bytes[index] == closing {
                        index += 1
                        expectingValue = false
                    } else {
                        open.append(closing)
                        if closing == UInt8(ascii: "}") { try readMemberPrefix() }
                    }
                } else {
                    _ = try readScalar()
                    expectingValue = false
                }
            } else {
                let closing = open[open.count - 1]
                if byte == closing {
                    index += 1
                    open.removeLast()
                } else if byte == UInt8(ascii: ",") {
                    index += 1
                    if closing == UInt8(ascii: "}") { try readMemberPrefix() }
                    expectingValue = true
                } else {
                    throw failure("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
                }
            }
        }
    }

    private mutating func readMemberPrefix() throws(PulsarJSONError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a member name") }
        _ = try readStringSlice()
        try expect(UInt8(ascii: ":"), "expected ':'")
    }

    /// Reads a string and returns its decoded UTF-8 bytes; lone surrogate escapes become U+FFFD.
    mutating func readString() throws(PulsarJSONError) -> [UInt8] {
        Array(try readStringSlice())
    }

    /// Reads a string like `readString()`, returning a slice of the frame when the string has no escapes.
    mutating func readStringSlice() throws(PulsarJSONError) -> ArraySlice<UInt8> {
        try expect(UInt8(ascii: "\""), "expected '\"'")
        let start = index
        skipPlainStringBytes()
        // Fast path: most strings (keys, base64 payloads, ids) contain no escapes and can be sliced.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return bytes[start..<index - 1]
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("unescaped control character in a string") }
            index += 1
        }
        var output = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return output[...]
            case UInt8(ascii: "\\"):
                try readEscape(into: &output)
            case 0..<0x20:
                index -= 1
                throw failure("unescaped control character in a string")
            default:
                output.append(byte)
            }
        }
        throw failure("unterminated string")
    }

    /// Moves `index` eight bytes at a time past bytes that cannot end or escape a string: no quote, backslash
    /// or control character. The byte loop after it finds the exact stop. Most of a publish frame's bytes are
    /// its base64 payload, so this loop reads most of them.
    private mutating func skipPlainStringBytes() {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        // True when some byte of `word` is below `limit` (at most 128): the classic has-less-than bit trick.
        func hasByteBelow(_ word: UInt64, _ limit: UInt64) -> Bool { (word &- ones &* limit) & ~word & highBits != 0 }
        var position = index
        bytes.withUnsafeBytes { buffer in
            while position + 8 <= buffer.count {
                let word = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt64.self))
                let stops = hasByteBelow(word, 0x20) || hasByteBelow(word ^ (ones &* 0x22), 1)
                    || hasByteBelow(word ^ (ones &* 0x5C), 1)
                if stops { break }
                position += 8
            }
        }
        index = position
    }

    private mutating func readEscape(into output: inout [UInt8]) throws(PulsarJSONError) {
        guard index < bytes.count else { throw failure("unterminated escape") }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(byte)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try readUnicodeEscape()
            output.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            index -= 1
            throw failure("invalid escape")
        }
    }

    /// Reads the hex digits after `\u`, joining a surrogate pair written as two escapes.
    private mutating func readUnicodeEscape() throws(PulsarJSONError) -> Unicode.Scalar {
        let unit = try readHex4()
        let replacement = Unicode.Scalar(0xFFFD)!
        switch unit {
        case 0xD800...0xDBFF:
            let pairStart = index
            if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                index += 2
                let low = try readHex4()
                if (0xDC00...0xDFFF).contains(low) {
                    let value = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    return Unicode.Scalar(value) ?? replacement
                }
                // Not a low surrogate: leave the second escape to be read on its own.
                index = pairStart
            }
            return replacement
        case 0xDC00...0xDFFF:
            return replacement
        default:
            return Unicode.Scalar(unit) ?? replacement
        }
    }

    private mutating func readHex4() throws(PulsarJSONError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Reads a number with RFC 8259 grammar and returns its text.
    private mutating func readNumber() throws(PulsarJSONError) -> [UInt8] {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
            skipDigits()
        }
        return Array(bytes[start..<index])
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(PulsarJSONError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("invalid literal") }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
            throw failure("invalid literal")
        }
        index += count
    }

    private mutating func expect(_ byte: UInt8, _ message: String) throws(PulsarJSONError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw failure(message) }
        index += 1
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private func failure(_ message: String) -> PulsarJSONError {
        PulsarJSONError(message: message, offset: index)
    }
}

extension ArraySlice where Element == UInt8 {
    /// Compares these bytes with an ASCII key without building a String.
    func equalsASCII(_ key: StaticString) -> Bool {
        guard count == key.utf8CodeUnitCount else { return false }
        for offset in 0..<count where self[startIndex + offset] != key.utf8Start[offset] {
            return false
        }
        return true
    }
}
