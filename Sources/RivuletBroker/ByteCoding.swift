/// Appends little-endian fixed-width integers and length-prefixed strings; the broker's record bodies use it.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write(_ value: UInt8) { bytes.append(value) }

    mutating func write(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func write(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }

    mutating func write(_ value: String) { write(Array(value.utf8)) }

    /// Writes a 32-bit length followed by the bytes.
    mutating func write(_ value: [UInt8]) {
        write(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func writeOptional(_ value: String?) {
        guard let value else { return write(UInt8(0)) }
        write(UInt8(1))
        write(value)
    }
}

/// Failure to decode a broker record body or checkpoint.
struct ByteReaderError: Error {
    var reason: String
}

/// Reads what `ByteWriter` wrote; every read checks the remaining length.
struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index == bytes.count }

    mutating func readUInt8() throws(ByteReaderError) -> UInt8 {
        guard index < bytes.count else { throw ByteReaderError(reason: "truncated at byte \(index)") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func readUInt32() throws(ByteReaderError) -> UInt32 {
        var value: UInt32 = 0
        for shift in stride(from: 0, to: 32, by: 8) { value |= UInt32(try readUInt8()) << UInt32(shift) }
        return value
    }

    mutating func readUInt64() throws(ByteReaderError) -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { value |= UInt64(try readUInt8()) << UInt64(shift) }
        return value
    }

    mutating func readInt64() throws(ByteReaderError) -> Int64 { Int64(bitPattern: try readUInt64()) }

    mutating func readBytes() throws(ByteReaderError) -> [UInt8] {
        let count = Int(try readUInt32())
        guard count <= bytes.count - index else { throw ByteReaderError(reason: "length \(count) exceeds the body") }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func readString() throws(ByteReaderError) -> String {
        String(decoding: try readBytes(), as: UTF8.self)
    }

    mutating func readOptionalString() throws(ByteReaderError) -> String? {
        try readUInt8() == 0 ? nil : try readString()
    }

    /// A count that must be plausible for the bytes left, so a corrupt count cannot drive a huge allocation.
    mutating func readCount(minimumBytesEach: Int) throws(ByteReaderError) -> Int {
        let count = Int(try readUInt32())
        guard count * max(1, minimumBytesEach) <= bytes.count - index else {
            throw ByteReaderError(reason: "count \(count) exceeds the body")
        }
        return count
    }
}
