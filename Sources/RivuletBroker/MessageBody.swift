import RivuletCore
import RivuletStorage

// `.message` record bodies use storage's `MessageRecordCodec`, whose layout docs/on-disk-format.md describes.

/// Encodes the fields of `message` that the record header does not carry.
func encodeMessageBody(_ message: StoredMessage) -> [UInt8] {
    MessageRecordCodec.encodeBody(message)
}

/// Decodes a message record body; returns nil when it is corrupt or of an unknown version.
func decodeMessageBody(_ body: [UInt8], id: MessageID, publishTime: Int64) -> StoredMessage? {
    try? MessageRecordCodec.decodeBody(body, id: id, publishTime: publishTime)
}

/// Returns the index fields of a `.message` record, reading only the body's header (not its payload); nil
/// when the header is corrupt or of an unknown version.
func indexEntry(of record: LogRecord, at position: LogPosition) -> IndexEntry? {
    let body = record.body
    // version, flags, event time, deliver-at; then the key when flag bit 0 is set.
    guard body.count >= 18, body[0] == 1 else { return nil }
    var deliverAt: UInt64 = 0
    for offset in 0..<8 { deliverAt |= UInt64(body[10 + offset]) << (8 * UInt64(offset)) }
    var key: String?
    if body[1] & 1 != 0 {
        guard body.count >= 22 else { return nil }
        var length = 0
        for offset in 0..<4 { length |= Int(body[18 + offset]) << (8 * offset) }
        guard length <= body.count - 22 else { return nil }
        key = String(decoding: body[22..<(22 + length)], as: UTF8.self)
    }
    return IndexEntry(
        position: position, sizeBytes: body.count, publishTime: record.timestamp,
        deliverAt: Int64(bitPattern: deliverAt), key: key
    )
}
