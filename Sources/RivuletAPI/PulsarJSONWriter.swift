import RivuletCore

/// Builds one JSON object into UTF-8 bytes, members in the order they are added.
///
/// Strings are escaped as RFC 8259 requires and no further: `"` and `\` get a backslash, control characters
/// get `\n`-style or `\u00XX` escapes, and `/` and non-ASCII characters are written as they are, as Jackson does.
struct PulsarJSONWriter {
    private(set) var bytes: [UInt8]
    private var needsComma = false

    init(capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func addString(_ key: StaticString, _ value: String) {
        addKey(key)
        PulsarJSONWriter.appendString(value, to: &bytes)
    }

    /// Adds a string member whose value is already ASCII-safe (base64), skipping the escape scan.
    mutating func addASCIIString(_ key: StaticString, _ value: [UInt8]) {
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: value)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Adds a string member whose value is already ASCII-safe (base64), skipping the escape scan.
    mutating func addASCIIString(_ key: StaticString, _ value: String) {
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: value.utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Adds a string member holding the base64 of `value`.
    mutating func addBase64(_ key: StaticString, _ value: [UInt8]) {
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        Base64.appendEncoded(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Adds a string member holding the wire form of `id`, the same text as `id.encoded`.
    mutating func addMessageID(_ key: StaticString, _ id: MessageID) {
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        id.appendEncoded(to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func addInteger(_ key: StaticString, _ value: Int) {
        addKey(key)
        PulsarTimestamp.appendDigits(Int64(value), width: 1, to: &bytes)
    }

    /// Adds a timestamp member in `PulsarTimestamp.format(epochMillis:)` form.
    mutating func addTimestamp(_ key: StaticString, epochMillis: Int64) {
        addKey(key)
        bytes.append(UInt8(ascii: "\""))
        PulsarTimestamp.append(epochMillis: epochMillis, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func addBool(_ key: StaticString, _ value: Bool) {
        addKey(key)
        bytes.append(contentsOf: Array((value ? "true" : "false").utf8))
    }

    /// Adds a nested object of string members, in the given order.
    mutating func addStringMap(_ key: StaticString, _ pairs: [(String, String)]) {
        addKey(key)
        bytes.append(UInt8(ascii: "{"))
        for (offset, pair) in pairs.enumerated() {
            if offset > 0 { bytes.append(UInt8(ascii: ",")) }
            PulsarJSONWriter.appendString(pair.0, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            PulsarJSONWriter.appendString(pair.1, to: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Closes the object and returns its bytes.
    mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func addKey(_ key: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Appends `value` as a quoted, escaped JSON string.
    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings (contexts, names, property values) need no escape and are copied in one call.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: value.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
