import RivuletCore
import RivuletStorage

/// The broker's part of a checkpoint: everything needed to resume replay at the checkpoint's position.
///
/// Encoding, little-endian, strings as u32 length plus UTF-8:
/// - u8 version (1), u64 nextStreamId;
/// - u32 fabric TTL count, then (string tenant, string fabric, i64 seconds);
/// - u32 stream count, then per stream: u64 id, string tenant, string fabric, u8 scope (0 local, 1 global),
///   string name, i64 createdAt, u64 lastSequence;
///   u32 retained message count, then (u64 sequence, u64 log position) in sequence order;
///   u32 subscription count, then per subscription: string name, u8 type (0 Exclusive, 1 Shared,
///   2 Failover, 3 Key_Shared), u64 markDelete, u32 acknowledged count, then u64 sequences above markDelete.
/// Message bodies are not copied: recovery reads them at their positions, so the log keeps every segment
/// from the oldest retained message on.
struct CheckpointState: Equatable {
    struct FabricTTL: Equatable {
        var tenant: String
        var fabric: String
        var seconds: Int64
    }

    struct Subscription: Equatable {
        var name: String
        var type: SubscriptionType
        var markDelete: UInt64
        var acknowledged: [UInt64]
    }

    struct Stream: Equatable {
        var id: UInt64
        var address: StreamAddress
        var createdAt: Int64
        var lastSequence: UInt64
        var messages: [(sequence: UInt64, position: LogPosition)]
        var subscriptions: [Subscription]

        static func == (lhs: Stream, rhs: Stream) -> Bool {
            lhs.id == rhs.id && lhs.address == rhs.address && lhs.createdAt == rhs.createdAt
                && lhs.lastSequence == rhs.lastSequence && lhs.subscriptions == rhs.subscriptions
                && lhs.messages.map(\.sequence) == rhs.messages.map(\.sequence)
                && lhs.messages.map(\.position) == rhs.messages.map(\.position)
        }
    }

    var nextStreamId: UInt64
    var ttls: [FabricTTL]
    var streams: [Stream]

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(nextStreamId)
        writer.write(UInt32(ttls.count))
        for ttl in ttls {
            writer.write(ttl.tenant)
            writer.write(ttl.fabric)
            writer.write(ttl.seconds)
        }
        writer.write(UInt32(streams.count))
        for stream in streams { Self.write(stream, to: &writer) }
        return writer.bytes
    }

    private static func write(_ stream: Stream, to writer: inout ByteWriter) {
        writer.write(stream.id)
        writer.write(stream.address.tenant)
        writer.write(stream.address.fabric)
        writer.write(stream.address.scope == .global ? UInt8(1) : UInt8(0))
        writer.write(stream.address.name)
        writer.write(stream.createdAt)
        writer.write(stream.lastSequence)
        writer.write(UInt32(stream.messages.count))
        for entry in stream.messages {
            writer.write(entry.sequence)
            writer.write(entry.position.rawValue)
        }
        writer.write(UInt32(stream.subscriptions.count))
        for subscription in stream.subscriptions {
            writer.write(subscription.name)
            writer.write(SubscriptionType.storedCodes[subscription.type] ?? 0)
            writer.write(subscription.markDelete)
            writer.write(UInt32(subscription.acknowledged.count))
            for sequence in subscription.acknowledged { writer.write(sequence) }
        }
    }

    init(nextStreamId: UInt64, ttls: [FabricTTL], streams: [Stream]) {
        self.nextStreamId = nextStreamId
        self.ttls = ttls
        self.streams = streams
    }

    init(decoding bytes: [UInt8]) throws(ByteReaderError) {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8() == 1 else { throw ByteReaderError(reason: "unknown checkpoint version") }
        nextStreamId = try reader.readUInt64()
        ttls = []
        for _ in 0..<(try reader.readCount(minimumBytesEach: 16)) {
            ttls.append(FabricTTL(tenant: try reader.readString(), fabric: try reader.readString(), seconds: try reader.readInt64()))
        }
        streams = []
        for _ in 0..<(try reader.readCount(minimumBytesEach: 40)) {
            streams.append(try Self.readStream(&reader))
        }
        guard reader.isAtEnd else { throw ByteReaderError(reason: "trailing bytes after the checkpoint") }
    }

    private static func readStream(_ reader: inout ByteReader) throws(ByteReaderError) -> Stream {
        let id = try reader.readUInt64()
        let tenant = try reader.readString()
        let fabric = try reader.readString()
        let scope: StreamScope = try reader.readUInt8() == 1 ? .global : .local
        let name = try reader.readString()
        let createdAt = try reader.readInt64()
        let lastSequence = try reader.readUInt64()
        var messages: [(sequence: UInt64, position: LogPosition)] = []
        for _ in 0..<(try reader.readCount(minimumBytesEach: 16)) {
            messages.append((try reader.readUInt64(), LogPosition(try reader.readUInt64())))
        }
        var subscriptions: [Subscription] = []
        for _ in 0..<(try reader.readCount(minimumBytesEach: 17)) {
            let subscriptionName = try reader.readString()
            let code = try reader.readUInt8()
            guard let type = SubscriptionType.storedCodes.first(where: { $0.value == code })?.key else {
                throw ByteReaderError(reason: "unknown subscription type \(code)")
            }
            let markDelete = try reader.readUInt64()
            var acknowledged: [UInt64] = []
            for _ in 0..<(try reader.readCount(minimumBytesEach: 8)) { acknowledged.append(try reader.readUInt64()) }
            subscriptions.append(Subscription(name: subscriptionName, type: type, markDelete: markDelete, acknowledged: acknowledged))
        }
        let address = StreamAddress(tenant: tenant, fabric: fabric, scope: scope, name: name)
        return Stream(id: id, address: address, createdAt: createdAt, lastSequence: lastSequence, messages: messages, subscriptions: subscriptions)
    }
}
