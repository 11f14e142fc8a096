import RivuletCore

/// Converts a `StoredMessage` to a `.message` record and back.
///
/// The record header already contains stream id (`id.streamId`), sequence (`id.sequence`) and timestamp
/// (`publishTime`); the body contains the rest, integers little-endian:
///
/// ```
/// size  field
///    1  body format version (1)
///    1  flags: bit 0 = key present, bit 1 = producer name present; other bits zero
///    8  event time (epoch milliseconds, signed; 0 = none)
///    8  deliver-at time (epoch milliseconds, signed; 0 = at once)
///    4  key length, then the key in UTF-8            (only when bit 0 is set)
///    4  property count, then for each property in order:
///       4  name length, name in UTF-8, 4  value length, value in UTF-8
///    4  producer name length, then the name in UTF-8  (only when bit 1 is set)
///    n  payload: every remaining byte
/// ```
public enum MessageRecordCodec {
    static let version: UInt8 = 1
    static let keyFlag: UInt8 = 1
    static let producerNameFlag: UInt8 = 2

    /// Returns the `.message` record for `message`.
    public static func record(for message: StoredMessage) -> LogRecord {
        LogRecord(
            type: .message, streamId: message.id.streamId, sequence: message.id.sequence,
            timestamp: message.publishTime, body: encodeBody(message)
        )
    }

    /// Returns the record body for `message`; the header fields are not repeated in it.
    public static func encodeBody(_ message: StoredMessage) -> [UInt8] {
        var size = 2 + 8 + 8 + 4 + message.payload.count
        if let key = message.key { size += 4 + key.utf8.count }
        if let producerName = message.producerName { size += 4 + producerName.utf8.count }
        for (name, value) in message.properties { size += 8 + name.utf8.count + value.utf8.count }

        var body: [UInt8] = []
        body.reserveCapacity(size)
        var flags: UInt8 = 0
        if message.key != nil { flags |= keyFlag }
        if message.producerName != nil { flags |= producerNameFlag }
        body.append(version)
        body.append(flags)
        appendInteger(UInt64(bitPattern: message.eventTime), to: &body)
        appendInteger(UInt64(bitPattern: message.deliverAt), to: &body)
        if let key = message.key { appendString(key, to: &body) }
        appendInteger(UInt32(message.properties.count), to: &body)
        for (name, value) in message.properties {
            appendString(name, to: &body)
            appendString(value, to: &body)
        }
        if let producerName = message.producerName { appendString(producerName, to: &body) }
        body.append(contentsOf: message.payload)
        return body
    }

    /// Rebuilds the message stored in `record`. Throws `.corrupt` when the record is not a `.message` or its
    /// body does not follow the layout above.
    public static func decode(_ record: LogRecord) throws(StorageError) -> StoredMessage {
        guard record.type == .message else { throw .corrupt("record of type \(record.type) is not a message") }
        return try decodeBody(
            record.body, id: MessageID(streamId: record.streamId, sequence: record.sequence), publishTime: record.timestamp
        )
    }

    /// Rebuilds a message from its body and the header fields kept beside it.
    public static func decodeBody(_ body: [UInt8], id: MessageID, publishTime: Int64) throws(StorageError) -> StoredMessage {
        var reader = BodyReader(bytes: body, id: id)
        let bodyVersion = try reader.byte()
        guard bodyVersion == version else { throw reader.failure("unknown message body version \(bodyVersion)") }
        let flags = try reader.byte()
        guard flags & ~(keyFlag | producerNameFlag) == 0 else { throw reader.failure("unknown flags \(flags)") }

        var message = StoredMessage(id: id, publishTime: publishTime, payload: [])
        message.eventTime = Int64(bitPattern: try reader.integer(UInt64.self))
        message.deliverAt = Int64(bitPattern: try reader.integer(UInt64.self))
        if flags & keyFlag != 0 { message.key = try reader.string() }
        let propertyCount = Int(try reader.integer(UInt32.self))
        // Each property needs at least 8 bytes, so a damaged count cannot make this reserve gigabytes.
        guard propertyCount <= reader.remaining / 8 else { throw reader.failure("property count \(propertyCount) is too large") }
        message.properties.reserveCapacity(propertyCount)
        for _ in 0..<propertyCount {
            let name = try reader.string()
            message.properties.append((name, try reader.string()))
        }
        if flags & producerNameFlag != 0 { message.producerName = try reader.string() }
        message.payload = reader.rest()
        return message
    }

    private static func appendInteger<T: FixedWidthInteger>(_ value: T, to body: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { body.append(contentsOf: $0) }
    }

    private static func appendString(_ text: String, to body: inout [UInt8]) {
        appendInteger(UInt32(text.utf8.count), to: &body)
        body.append(contentsOf: text.utf8)
    }
}

/// Reads a message body front to back, failing with `.corrupt` on anything short or malformed.
private struct BodyReader {
    let bytes: [UInt8]
    let id: MessageID
    var index = 0

    var remaining: Int { bytes.count - index }

    func failure(_ reason: String) -> StorageError {
        .corrupt("message body of stream \(id.streamId) sequence \(id.sequence) is invalid at byte \(index): \(reason)")
    }

    mutating func byte() throws(StorageError) -> UInt8 {
        guard remaining >= 1 else { throw failure("body ends early") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func integer<T: FixedWidthInteger>(_ type: T.Type) throws(StorageError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw failure("body ends early") }
        var value: T = 0
        for offset in 0..<size { value |= T(bytes[index + offset]) << (8 * offset) }
        index += size
        return value
    }

    mutating func string() throws(StorageError) -> String {
        let length = Int(try integer(UInt32.self))
        guard remaining >= length else { throw failure("string of \(length) bytes runs past the end") }
        let utf8 = bytes[index..<(index + length)]
        guard let text = String(validating: utf8, as: UTF8.self) else { throw failure("string is not valid UTF-8") }
        index += length
        return text
    }

    mutating func rest() -> [UInt8] {
        defer { index = bytes.count }
        return Array(bytes[index...])
    }
}
