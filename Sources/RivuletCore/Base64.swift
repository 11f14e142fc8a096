/// Standard-alphabet base64 (RFC 4648 section 4), as Pulsar's WebSocket API uses for payloads and message ids.
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes `bytes` with padding.
    public static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        String(decoding: encodeToBytes(bytes), as: UTF8.self)
    }

    /// Encodes `bytes` with padding into ASCII bytes.
    public static func encodeToBytes<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        let alphabet = alphabet
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let value = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            output.append(alphabet[Int(value >> 18 & 0x3F)])
            output.append(alphabet[Int(value >> 12 & 0x3F)])
            output.append(second == nil ? UInt8(ascii: "=") : alphabet[Int(value >> 6 & 0x3F)])
            output.append(third == nil ? UInt8(ascii: "=") : alphabet[Int(value & 0x3F)])
        }
        return output
    }

    /// Appends the padded encoding of `bytes` to `output`, so a frame encoder needs no intermediate array.
    public static func appendEncoded(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        let encodedCount = (bytes.count + 2) / 3 * 4
        guard encodedCount > 0, let input = bytes.baseAddress else { return }
        let start = output.count
        // Grow first, then write through a pointer: an `append` per character costs more than the encoding.
        output.append(contentsOf: repeatElement(0, count: encodedCount))
        alphabet.withUnsafeBufferPointer { alphabet in
            output.withUnsafeMutableBufferPointer { buffer in
                let out = buffer.baseAddress! + start
                var index = 0
                var written = 0
                while index + 3 <= bytes.count {
                    let value = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                    out[written] = alphabet[Int(value >> 18 & 0x3F)]
                    out[written + 1] = alphabet[Int(value >> 12 & 0x3F)]
                    out[written + 2] = alphabet[Int(value >> 6 & 0x3F)]
                    out[written + 3] = alphabet[Int(value & 0x3F)]
                    index += 3
                    written += 4
                }
                let remaining = bytes.count - index
                guard remaining > 0 else { return }
                let second = remaining == 2 ? UInt32(input[index + 1]) : 0
                let value = UInt32(input[index]) << 16 | second << 8
                out[written] = alphabet[Int(value >> 18 & 0x3F)]
                out[written + 1] = alphabet[Int(value >> 12 & 0x3F)]
                out[written + 2] = remaining == 2 ? alphabet[Int(value >> 6 & 0x3F)] : UInt8(ascii: "=")
                out[written + 3] = UInt8(ascii: "=")
            }
        }
    }

    /// Decodes standard base64; padding is optional. Returns nil on whitespace, URL-safe characters,
    /// misplaced padding or a dangling single character, as Java's basic decoder does.
    public static func decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        if let decoded = text.withContiguousStorageIfAvailable({ decodeContiguous($0) }) { return decoded }
        var output = [UInt8]()
        output.reserveCapacity(text.count / 4 * 3 + 2)
        // A local copy, because each read of the lazily initialised static pays a once-check per byte.
        let table = decodeTable
        var accumulator: UInt32 = 0
        var pending = 0
        var padding = 0
        for byte in text {
            if byte == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0 else { return nil }
            let value = table[Int(byte)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            pending += 1
            if pending == 4 {
                output.append(UInt8(accumulator >> 16 & 0xFF))
                output.append(UInt8(accumulator >> 8 & 0xFF))
                output.append(UInt8(accumulator & 0xFF))
                accumulator = 0
                pending = 0
            }
        }
        switch pending {
        case 0:
            guard padding == 0 else { return nil }
        case 2:
            guard padding == 0 || padding == 2 else { return nil }
            output.append(UInt8(accumulator >> 4 & 0xFF))
        case 3:
            guard padding == 0 || padding == 1 else { return nil }
            output.append(UInt8(accumulator >> 10 & 0xFF))
            output.append(UInt8(accumulator >> 2 & 0xFF))
        default:
            return nil
        }
        return output
    }

    public static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }

    /// Decodes with the rules of `decode(_:)`, four characters at a time straight into the result's storage.
    private static func decodeContiguous(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var count = text.count
        var padding = 0
        while count > 0, text[count - 1] == UInt8(ascii: "=") {
            count -= 1
            padding += 1
        }
        // Any "=" left is inside the text, and the table rejects it like any other byte outside the alphabet.
        let tail = count % 4
        switch tail {
        case 0: guard padding == 0 else { return nil }
        case 2: guard padding == 0 || padding == 2 else { return nil }
        case 3: guard padding == 0 || padding == 1 else { return nil }
        default: return nil
        }
        let outputCount = count / 4 * 3 + (tail == 0 ? 0 : tail - 1)
        guard let input = text.baseAddress, count > 0 else { return [] }

        var valid = true
        let output = decodeTable.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: outputCount) { buffer, initialized in
                let out = buffer.baseAddress!
                var index = 0
                var written = 0
                while index + 4 <= count {
                    let first = table[Int(input[index])], second = table[Int(input[index + 1])]
                    let third = table[Int(input[index + 2])], fourth = table[Int(input[index + 3])]
                    // Valid entries are below 64, and the 0xFF of an invalid byte sets the high bit.
                    guard (first | second | third | fourth) & 0x80 == 0 else {
                        valid = false
                        return
                    }
                    let value = UInt32(first) << 18 | UInt32(second) << 12 | UInt32(third) << 6 | UInt32(fourth)
                    out[written] = UInt8(truncatingIfNeeded: value >> 16)
                    out[written + 1] = UInt8(truncatingIfNeeded: value >> 8)
                    out[written + 2] = UInt8(truncatingIfNeeded: value)
                    index += 4
                    written += 3
                }

                if tail > 0 {
                    var value: UInt32 = 0
                    for offset in 0..<tail {
                        let sextet = table[Int(input[index + offset])]
                        guard sextet & 0x80 == 0 else {
                            valid = false
                            return
                        }
                        value = value << 6 | UInt32(sextet)
                    }
                    if tail == 2 {
                        out[written] = UInt8(truncatingIfNeeded: value >> 4)
                    } else {
                        out[written] = UInt8(truncatingIfNeeded: value >> 10)
                        out[written + 1] = UInt8(truncatingIfNeeded: value >> 2)
                    }
                }
                initialized = outputCount
            }
        }
        return valid ? output : nil
    }
}
