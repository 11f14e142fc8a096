import RivuletCore
import Testing
@testable import RivuletStorage

@Suite struct MessageRecordCodecTests {
    private func expectSame(_ decoded: StoredMessage, _ original: StoredMessage) {
        #expect(decoded.id == original.id)
        #expect(decoded.publishTime == original.publishTime)
        #expect(decoded.eventTime == original.eventTime)
        #expect(decoded.deliverAt == original.deliverAt)
        #expect(decoded.key == original.key)
        #expect(decoded.properties.map(\.0) == original.properties.map(\.0))
        #expect(decoded.properties.map(\.1) == original.properties.map(\.1))
        #expect(decoded.payload == original.payload)
        #expect(decoded.producerName == original.producerName)
    }

    static let messages: [StoredMessage] = [
        StoredMessage(id: MessageID(streamId: 0, sequence: 0), publishTime: 0, payload: []),
        StoredMessage(
            id: MessageID(streamId: 12, sequence: 99), publishTime: 1_733_300_000_000, eventTime: -5, deliverAt: 1_733_300_060_000,
            key: "clé-🔑", properties: [("région", "東京"), ("empty", ""), ("région", "again")],
            payload: Array("héllo".utf8), producerName: "producer-ü"
        ),
        StoredMessage(
            id: MessageID(streamId: UInt64.max, sequence: UInt64.max), publishTime: Int64.min, key: "",
            payload: (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0) }, producerName: ""
        ),
    ]

    @Test(arguments: messages.indices)
    func roundTrip(index: Int) throws {
        let message = Self.messages[index]
        let record = MessageRecordCodec.record(for: message)

        #expect(record.type == .message)
        #expect(record.streamId == message.id.streamId)
        #expect(record.sequence == message.id.sequence)
        #expect(record.timestamp == message.publishTime)
        expectSame(try MessageRecordCodec.decode(record), message)
    }

    @Test func roundTripThroughSegmentedLog() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }
        let message = Self.messages[1]

        let positions = try appendAndWait(log, [MessageRecordCodec.record(for: message)]).get()

        expectSame(try MessageRecordCodec.decode(try log.read(at: positions[0])), message)
    }

    @Test func bodyLayoutIsStable() {
        let message = StoredMessage(
            id: MessageID(streamId: 1, sequence: 2), publishTime: 3, eventTime: 4, deliverAt: 5, key: "k",
            properties: [("a", "b")], payload: [0xAA], producerName: "p"
        )
        let expected: [UInt8] = [1, 3, 4, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x6B, 1, 0, 0, 0,
                                 1, 0, 0, 0, 0x61, 1, 0, 0, 0, 0x62, 1, 0, 0, 0, 0x70, 0xAA]
        #expect(MessageRecordCodec.encodeBody(message) == expected)
    }

    @Test func truncatedBodiesAreRejected() throws {
        let body = MessageRecordCodec.encodeBody(Self.messages[1])
        let payloadStart = body.count - Self.messages[1].payload.count

        for length in 0..<payloadStart {
            #expect(throws: StorageError.self, "body cut at \(length)") {
                try MessageRecordCodec.decodeBody(Array(body[..<length]), id: MessageID(streamId: 1, sequence: 1), publishTime: 0)
            }
        }
    }

    @Test func invalidBodiesAreRejected() {
        let id = MessageID(streamId: 1, sequence: 1)
        let invalidUTF8: [UInt8] = [1, 1] + [UInt8](repeating: 0, count: 16) + [2, 0, 0, 0, 0xC3, 0x28, 0, 0, 0, 0]
        let hugeCount: [UInt8] = [1, 0] + [UInt8](repeating: 0, count: 16) + [0xFF, 0xFF, 0xFF, 0x7F]
        let unknownFlags: [UInt8] = [1, 8] + [UInt8](repeating: 0, count: 20)
        let unknownVersion: [UInt8] = [2, 0] + [UInt8](repeating: 0, count: 20)

        for body in [invalidUTF8, hugeCount, unknownFlags, unknownVersion] {
            #expect(throws: StorageError.self) { try MessageRecordCodec.decodeBody(body, id: id, publishTime: 0) }
        }
        let cursor = LogRecord(type: .cursor, streamId: 1, sequence: 1, timestamp: 0, body: [])
        #expect(throws: StorageError.self) { try MessageRecordCodec.decode(cursor) }
    }
}
