import RivuletCore
import RivuletStorage

/// A catalog change, stored as a `.catalog` record. A stream's deletion is a `.streamDeletion` record instead.
///
/// Body layout, little-endian, strings as u32 length plus UTF-8:
/// - u8 version (1), u8 operation;
/// - operation 1, stream created (record `streamId` = the new id): string tenant, string fabric,
///   u8 scope (0 local, 1 global), string name, i64 createdAt (epoch ms);
/// - operation 2, fabric TTL set (record `streamId` = 0): string tenant, string fabric, i64 seconds.
enum CatalogChange: Equatable {
    case streamCreated(id: UInt64, address: StreamAddress, createdAt: Int64)
    case messageTTLSet(tenant: String, fabric: String, seconds: Int64)

    func record(timestamp: Int64) -> LogRecord {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        var streamId: UInt64 = 0
        switch self {
        case .streamCreated(let id, let address, let createdAt):
            streamId = id
            writer.write(UInt8(1))
            writer.write(address.tenant)
            writer.write(address.fabric)
            writer.write(address.scope == .global ? UInt8(1) : UInt8(0))
            writer.write(address.name)
            writer.write(createdAt)
        case .messageTTLSet(let tenant, let fabric, let seconds):
            writer.write(UInt8(2))
            writer.write(tenant)
            writer.write(fabric)
            writer.write(seconds)
        }
        return LogRecord(type: .catalog, streamId: streamId, sequence: 0, timestamp: timestamp, body: writer.bytes)
    }

    init(record: LogRecord) throws(ByteReaderError) {
        var reader = ByteReader(record.body)
        guard try reader.readUInt8() == 1 else { throw ByteReaderError(reason: "unknown catalog record version") }
        switch try reader.readUInt8() {
        case 1:
            let tenant = try reader.readString()
            let fabric = try reader.readString()
            let scope: StreamScope = try reader.readUInt8() == 1 ? .global : .local
            let name = try reader.readString()
            let address = StreamAddress(tenant: tenant, fabric: fabric, scope: scope, name: name)
            self = .streamCreated(id: record.streamId, address: address, createdAt: try reader.readInt64())
        case 2:
            self = .messageTTLSet(tenant: try reader.readString(), fabric: try reader.readString(), seconds: try reader.readInt64())
        case let operation:
            throw ByteReaderError(reason: "unknown catalog operation \(operation)")
        }
    }
}

/// One change to a subscription's durable cursor.
enum CursorChange: Equatable {
    /// Created with every sequence up to `markDelete` consumed, for consumers of `type`.
    case created(subscription: String, markDelete: UInt64, type: SubscriptionType)
    /// Inclusive sequence ranges acknowledged (individual acks, cumulative acks, cleared backlog, expiry).
    case acknowledged(subscription: String, ranges: [ClosedRange<UInt64>])
    case deleted(subscription: String)

    var subscription: String {
        switch self {
        case .created(let name, _, _), .acknowledged(let name, _), .deleted(let name): name
        }
    }
}

/// Cursor changes of one stream, batched into one `.cursor` record (record `streamId` = the stream).
///
/// Body layout, little-endian: u8 version (1), u32 change count, then per change a u8 kind and the
/// subscription name (u32 length plus UTF-8). After the name:
/// - kind 1, created: u64 markDelete, u8 type (0 Exclusive, 1 Shared, 2 Failover, 3 Key_Shared) of the
///   first consumer (a later type change lives in memory and checkpoints only);
/// - kind 2, acknowledged: u32 range count, then (u64 first, u64 last) inclusive ranges;
/// - kind 3, deleted: nothing.
enum CursorRecord {
    static func record(streamId: UInt64, changes: [CursorChange], timestamp: Int64) -> LogRecord {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(UInt32(changes.count))
        for change in changes {
            switch change {
            case .created(let name, let markDelete, let type):
                writer.write(UInt8(1))
                writer.write(name)
                writer.write(markDelete)
                writer.write(SubscriptionType.storedCodes[type] ?? 0)
            case .acknowledged(let name, let ranges):
                writer.write(UInt8(2))
                writer.write(name)
                writer.write(UInt32(ranges.count))
                for range in ranges {
                    writer.write(range.lowerBound)
                    writer.write(range.upperBound)
                }
            case .deleted(let name):
                writer.write(UInt8(3))
                writer.write(name)
            }
        }
        return LogRecord(type: .cursor, streamId: streamId, sequence: 0, timestamp: timestamp, body: writer.bytes)
    }

    static func changes(in record: LogRecord) throws(ByteReaderError) -> [CursorChange] {
        var reader = ByteReader(record.body)
        guard try reader.readUInt8() == 1 else { throw ByteReaderError(reason: "unknown cursor record version") }
        let count = try reader.readCount(minimumBytesEach: 5)
        var changes: [CursorChange] = []
        for _ in 0..<count {
            let kind = try reader.readUInt8()
            let name = try reader.readString()
            switch kind {
            case 1:
                let markDelete = try reader.readUInt64()
                let code = try reader.readUInt8()
                guard let type = SubscriptionType.storedCodes.first(where: { $0.value == code })?.key else {
                    throw ByteReaderError(reason: "unknown subscription type \(code)")
                }
                changes.append(.created(subscription: name, markDelete: markDelete, type: type))
            case 2:
                let rangeCount = try reader.readCount(minimumBytesEach: 16)
                var ranges: [ClosedRange<UInt64>] = []
                for _ in 0..<rangeCount {
                    let first = try reader.readUInt64()
                    let last = try reader.readUInt64()
                    guard first <= last else { throw ByteReaderError(reason: "inverted ack range") }
                    ranges.append(first...last)
                }
                changes.append(.acknowledged(subscription: name, ranges: ranges))
            case 3:
                changes.append(.deleted(subscription: name))
            default:
                throw ByteReaderError(reason: "unknown cursor change kind \(kind)")
            }
        }
        return changes
    }

    /// Collapses sequences into sorted inclusive ranges.
    static func ranges(of sequences: some Sequence<UInt64>) -> [ClosedRange<UInt64>] {
        var ranges: [ClosedRange<UInt64>] = []
        for sequence in sequences.sorted() {
            if let last = ranges.last, last.upperBound &+ 1 == sequence {
                ranges[ranges.count - 1] = last.lowerBound...sequence
            } else if ranges.last?.contains(sequence) != true {
                ranges.append(sequence...sequence)
            }
        }
        return ranges
    }
}

extension SubscriptionType {
    /// Codes of the types in cursor records and checkpoints. Stored on disk: never renumber them.
    static let storedCodes: [SubscriptionType: UInt8] = [.exclusive: 0, .shared: 1, .failover: 2, .keyShared: 3]
}
