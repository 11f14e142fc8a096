/// The identity of one stored message: the stream's numeric id and the message's sequence in that stream.
///
/// On the wire it is the standard base64 of a Pulsar `MessageIdData` protobuf with `ledgerId` = stream id and
/// `entryId` = sequence, so ids look like Pulsar's (`CAAQAw==` is stream 0, sequence 3). Both numbers are stable
/// across restarts and compaction, unlike a file position would be. Clients get back the byte-identical string.
public struct MessageID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var streamId: UInt64
    public var sequence: UInt64

    public init(streamId: UInt64, sequence: UInt64) {
        self.streamId = streamId
        self.sequence = sequence
    }

    public static func < (lhs: MessageID, rhs: MessageID) -> Bool {
        (lhs.streamId, lhs.sequence) < (rhs.streamId, rhs.sequence)
    }

    /// The protobuf bytes: field 1 (ledgerId) and field 2 (entryId) as varints.
    public var protobufBytes: [UInt8] {
        var bytes: [UInt8] = [0x08]
        MessageID.appendVarint(streamId, to: &bytes)
        bytes.append(0x10)
        MessageID.appendVarint(sequence, to: &bytes)
        return bytes
    }

    /// The base64 string clients see and send back.
    public var encoded: String { Base64.encode(protobufBytes) }

    public var description: String { encoded }

    /// Appends the base64 text of `encoded` to `output` without allocating.
    public func appendEncoded(to output: inout [UInt8]) {
        // Two varints of at most 10 bytes each plus their two keys.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 22) { buffer in
            var count = 0
            func put(_ byte: UInt8) {
                buffer[count] = byte
                count += 1
            }
            func putVarint(_ value: UInt64) {
                var remaining = value
                while remaining >= 0x80 {
                    put(UInt8(remaining & 0x7F) | 0x80)
                    remaining >>= 7
                }
                put(UInt8(remaining))
            }
            put(0x08)
            putVarint(streamId)
            put(0x10)
            putVarint(sequence)
            Base64.appendEncoded(UnsafeBufferPointer(rebasing: buffer[0..<count]), to: &output)
        }
    }

    /// Parses a base64 `MessageIdData`. Accepts every field Pulsar defines (partition, batch index, ack set,
    /// batch size, first chunk id) and ignores unknown fields; requires ledgerId and entryId.
    public init?(encoded: String) {
        guard let bytes = Base64.decode(encoded) else { return nil }
        self.init(protobuf: bytes)
    }

    public init?(protobuf bytes: [UInt8]) {
        var ledger: UInt64?
        var entry: UInt64?
        var index = 0
        while index < bytes.count {
            guard let key = MessageID.readVarint(bytes, &index) else { return nil }
            let field = key >> 3
            switch key & 0x7 {
            case 0:
                guard let value = MessageID.readVarint(bytes, &index) else { return nil }
                if field == 1 { ledger = value }
                if field == 2 { entry = value }
            case 1:
                index += 8
            case 2:
                guard let length = MessageID.readVarint(bytes, &index), length <= UInt64(bytes.count - index) else { return nil }
                index += Int(length)
            case 5:
                index += 4
            default:
                return nil
            }
            guard index <= bytes.count else { return nil }
        }
        guard let ledger, let entry else { return nil }
        self.init(streamId: ledger, sequence: entry)
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var remaining = value
        while remaining >= 0x80 {
            bytes.append(UInt8(remaining & 0x7F) | 0x80)
            remaining >>= 7
        }
        bytes.append(UInt8(remaining))
    }

    static func readVarint(_ bytes: [UInt8], _ index: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }
}
