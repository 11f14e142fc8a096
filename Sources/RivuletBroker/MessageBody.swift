import RivuletCore

// The broker's own `.message` record body until storage's codec replaces it. Layout, little-endian:
// u8 version (1), i64 eventTime, i64 deliverAt, optional string key (u8 flag, u32 length, UTF-8),
// u32 property count then (string name, string value) pairs, optional string producerName,
// u32 payload length then the payload. Id and publish time live in the record header.

/// Encodes the fields of `message` that the record header does not carry.
func encodeMessageBody(_ message: StoredMessage) -> [UInt8] {
    var writer = ByteWriter()
    writer.write(UInt8(1))
    writer.write(message.eventTime)
    writer.write(message.deliverAt)
    writer.writeOptional(message.key)
    writer.write(UInt32(message.properties.count))
    for (name, value) in message.properties {
        writer.write(name)
        writer.write(value)
    }
    writer.writeOptional(message.producerName)
    writer.write(message.payload)
    return writer.bytes
}

/// Decodes a body written by `encodeMessageBody`; returns nil when it is corrupt or of an unknown version.
func decodeMessageBody(_ body: [UInt8], id: MessageID, publishTime: Int64) -> StoredMessage? {
    var reader = ByteReader(body)
    do {
        guard try reader.readUInt8() == 1 else { return nil }
        let eventTime = try reader.readInt64()
        let deliverAt = try reader.readInt64()
        let key = try reader.readOptionalString()
        let propertyCount = try reader.readCount(minimumBytesEach: 8)
        var properties: [(String, String)] = []
        properties.reserveCapacity(propertyCount)
        for _ in 0..<propertyCount {
            properties.append((try reader.readString(), try reader.readString()))
        }
        let producerName = try reader.readOptionalString()
        let payload = try reader.readBytes()
        guard reader.isAtEnd else { return nil }
        return StoredMessage(
            id: id, publishTime: publishTime, eventTime: eventTime, deliverAt: deliverAt, key: key,
            properties: properties, payload: payload, producerName: producerName
        )
    } catch {
        return nil
    }
}
