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
