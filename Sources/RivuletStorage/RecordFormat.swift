/// The byte layout of one log record; `docs/on-disk-format.md` describes the same layout for people.
///
/// ```
/// offset  size  field
///      0     2  magic "RV" (0x52 0x56)
///      2     1  format version (1)
///      3     1  reserved, zero
///      4     4  body length in bytes, unsigned little-endian
///      8     4  CRC-32C of bytes 0..<8 and 12..<(40 + body length), little-endian
///     12     1  record type (`RecordType` raw value)
///     13     3  reserved, zero
///     16     8  stream id, little-endian
///     24     8  sequence, little-endian
///     32     8  timestamp (epoch milliseconds, signed), little-endian
///     40     n  body
/// ```
enum RecordFormat {
    static let magic0: UInt8 = 0x52
    static let magic1: UInt8 = 0x56
    static let version: UInt8 = 1
    static let headerBytes = 40
    static let checksumOffset = 8
    /// The largest body the format accepts regardless of `LogOptions.maxRecordBytes`, so recovery recognises
    /// a garbage length in a torn tail without reading gigabytes.
    static let maxBodyBytes = 1 << 30

    /// A record checked against its checksum, with its body still in the caller's buffer.
    struct View {
        var type: RecordType
        var streamId: UInt64
        var sequence: UInt64
        var timestamp: Int64
        var body: UnsafeRawBufferPointer

        var totalBytes: Int { RecordFormat.headerBytes + body.count }

        func makeRecord() -> LogRecord {
            LogRecord(type: type, streamId: streamId, sequence: sequence, timestamp: timestamp, body: Array(body))
        }
    }

    enum Parsed {
        case valid(View)
        /// The buffer ends before the record does; `totalBytes` is how much the record needs from its start.
        case incomplete(totalBytes: Int)
        case invalid(reason: String)
    }

    static func encodedBytes(_ record: LogRecord) -> Int { headerBytes + record.body.count }

    /// Writes `record` at `destination`, which must have room for `encodedBytes(record)` bytes.
    static func encode(_ record: LogRecord, at destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: magic0, toByteOffset: 0, as: UInt8.self)
        destination.storeBytes(of: magic1, toByteOffset: 1, as: UInt8.self)
        destination.storeBytes(of: version, toByteOffset: 2, as: UInt8.self)
        destination.storeBytes(of: 0, toByteOffset: 3, as: UInt8.self)
        destination.storeBytes(of: UInt32(record.body.count).littleEndian, toByteOffset: 4, as: UInt32.self)
        destination.storeBytes(of: record.type.rawValue, toByteOffset: 12, as: UInt8.self)
        destination.storeBytes(of: 0, toByteOffset: 13, as: UInt8.self)
        destination.storeBytes(of: 0, toByteOffset: 14, as: UInt16.self)
        destination.storeBytes(of: record.streamId.littleEndian, toByteOffset: 16, as: UInt64.self)
        destination.storeBytes(of: record.sequence.littleEndian, toByteOffset: 24, as: UInt64.self)
        destination.storeBytes(of: record.timestamp.littleEndian, toByteOffset: 32, as: Int64.self)
        record.body.withUnsafeBytes { body in
            if let source = body.baseAddress {
                (destination + headerBytes).copyMemory(from: source, byteCount: body.count)
            }
        }
        let crc = checksum(UnsafeRawBufferPointer(start: destination, count: headerBytes + record.body.count))
        destination.storeBytes(of: crc.littleEndian, toByteOffset: checksumOffset, as: UInt32.self)
    }

    /// Parses and verifies the record that starts at the beginning of `bytes`.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Parsed {
        guard bytes.count >= headerBytes, let base = bytes.baseAddress else {
            return .incomplete(totalBytes: headerBytes)
        }
        guard base.load(as: UInt8.self) == magic0, base.load(fromByteOffset: 1, as: UInt8.self) == magic1 else {
            return .invalid(reason: "bad magic")
        }
        let recordVersion = base.load(fromByteOffset: 2, as: UInt8.self)
        guard recordVersion == version else { return .invalid(reason: "unknown format version \(recordVersion)") }

        let bodyBytes = Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard bodyBytes <= maxBodyBytes else { return .invalid(reason: "body length \(bodyBytes) is over the format limit") }
        let totalBytes = headerBytes + bodyBytes
        guard bytes.count >= totalBytes else { return .incomplete(totalBytes: totalBytes) }

        let stored = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: checksumOffset, as: UInt32.self))
        guard checksum(UnsafeRawBufferPointer(start: base, count: totalBytes)) == stored else {
            return .invalid(reason: "checksum mismatch")
        }
        let rawType = base.load(fromByteOffset: 12, as: UInt8.self)
        guard let type = RecordType(rawValue: rawType) else { return .invalid(reason: "unknown record type \(rawType)") }

        return .valid(View(
            type: type,
            streamId: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
            sequence: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
            timestamp: Int64(littleEndian: base.loadUnaligned(fromByteOffset: 32, as: Int64.self)),
            body: UnsafeRawBufferPointer(start: base + headerBytes, count: bodyBytes)
        ))
    }

    /// Computes the CRC of a whole encoded record, skipping the four bytes that hold the CRC itself.
    private static func checksum(_ record: UnsafeRawBufferPointer) -> UInt32 {
        var state = CRC32C.update(CRC32C.start, UnsafeRawBufferPointer(rebasing: record[0..<checksumOffset]))
        state = CRC32C.update(state, UnsafeRawBufferPointer(rebasing: record[(checksumOffset + 4)...]))
        return CRC32C.finish(state)
    }
}
