import RivuletCore
import RivuletStorage
import Testing
@testable import RivuletBroker

@Suite struct RecordCodingTests {
    @Test func messageBodyRoundTrips() {
        let message = StoredMessage(
            id: MessageID(streamId: 3, sequence: 9), publishTime: 1234, eventTime: 55, deliverAt: 66, key: "k",
            properties: [("a", "1"), ("b", "")], payload: [0, 1, 255], producerName: "p"
        )
        let decoded = decodeMessageBody(encodeMessageBody(message), id: message.id, publishTime: 1234)
        #expect(decoded?.key == "k")
        #expect(decoded?.eventTime == 55)
        #expect(decoded?.deliverAt == 66)
        #expect(decoded?.properties.map { "\($0.0)=\($0.1)" } == ["a=1", "b="])
        #expect(decoded?.payload == [0, 1, 255])
        #expect(decoded?.producerName == "p")
    }

    @Test func truncatedMessageBodyRejected() {
        let payload: [UInt8] = [1, 2, 3]
        let body = encodeMessageBody(StoredMessage(id: MessageID(streamId: 1, sequence: 1), publishTime: 0, payload: payload))
        // The payload is the rest of the body, so only cuts before it are detectable here; the record's CRC-32C
        // catches the others.
        for length in 0..<(body.count - payload.count) {
            #expect(decodeMessageBody(Array(body.prefix(length)), id: MessageID(streamId: 1, sequence: 1), publishTime: 0) == nil)
        }
    }

    @Test func cursorRecordRoundTrips() throws {
        let changes: [CursorChange] = [
            .created(subscription: "s", markDelete: 4, type: .keyShared),
            .acknowledged(subscription: "s", ranges: [5...5, 7...9]),
            .deleted(subscription: "t"),
        ]
        let record = CursorRecord.record(streamId: 2, changes: changes, timestamp: 0)
        #expect(try CursorRecord.changes(in: record) == changes)
        #expect(CursorRecord.ranges(of: [9, 5, 7, 8, 5]) == [5...5, 7...9])
    }

    @Test func catalogRecordRoundTrips() throws {
        let address = StreamAddress(tenant: "t", fabric: "f", scope: .local, name: "n")
        for change in [CatalogChange.streamCreated(id: 7, address: address, createdAt: 99), .messageTTLSet(tenant: "t", fabric: "f", seconds: 60)] {
            #expect(try CatalogChange(record: change.record(timestamp: 0)) == change)
        }
    }

    @Test func checkpointRoundTrips() throws {
        let address = StreamAddress(tenant: "t", fabric: "f", scope: .global, name: "n")
        let state = CheckpointState(
            nextStreamId: 9, ttls: [.init(tenant: "t", fabric: "f", seconds: 30)],
            streams: [.init(
                id: 4, address: address, createdAt: 5, lastSequence: 10,
                messages: [(sequence: UInt64(8), position: LogPosition(80)), (sequence: UInt64(10), position: LogPosition(100))],
                subscriptions: [.init(name: "s", type: .keyShared, markDelete: 7, acknowledged: [9])]
            )]
        )
        #expect(try CheckpointState(decoding: state.encoded()) == state)
        #expect(throws: ByteReaderError.self) { try CheckpointState(decoding: Array(state.encoded().dropLast())) }
    }
}
