import RivuletCore
import RivuletStorage
import Testing
@testable import RivuletBroker

@Suite struct EngineStreamTests {
    @Test func createListAndDelete() throws {
        let harness = try Harness()
        let local = StreamAddress(tenant: "acme", fabric: "_system", scope: .local, name: "audit")
        try harness.engine.createStream(harness.address)
        try harness.engine.createStream(local)
        #expect(throws: EngineError.self) { try harness.engine.createStream(harness.address) }
        #expect(harness.engine.streamExists(harness.address))
        #expect(harness.engine.listStreams(tenant: "acme", fabric: "_system", scope: nil).map(\.address.name) == ["orders", "audit"])
        #expect(harness.engine.listStreams(tenant: "acme", fabric: "_system", scope: .local).map(\.address.name) == ["audit"])
        #expect(harness.engine.listStreams(tenant: "other", fabric: "_system", scope: nil).isEmpty)
        try harness.engine.deleteStream(local, force: false)
        #expect(!harness.engine.streamExists(local))
        #expect(throws: EngineError.streamNotFound("stream 'c8locals.audit' not found")) {
            try harness.engine.deleteStream(local, force: false)
        }
    }

    @Test func invalidStreamNameRejected() throws {
        let harness = try Harness()
        let bad = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "a b")
        #expect(throws: EngineError.self) { try harness.engine.createStream(bad) }
    }

    @Test func streamIdsAreNeverReused() throws {
        let harness = try Harness()
        let first = try harness.publish("x", to: try created(harness, "one"))
        try harness.engine.deleteStream(try created(harness, "one", create: false), force: true)
        let restarted = try harness.restarted()
        let second = try restarted.publish("y", to: try created(restarted, "two"))
        #expect(second.streamId > first.streamId)
    }

    @Test func deleteWithoutForceRejectsConnectedClients() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink)
        #expect(throws: EngineError.self) { try harness.engine.deleteStream(harness.address, force: false) }
        #expect(harness.engine.streamExists(harness.address))
    }

    @Test func forcedDeleteClosesEverySink() throws {
        let harness = try Harness()
        let consumerSink = RecordingSink()
        let readerSink = RecordingSink()
        let consumer = try harness.subscribe(sink: consumerSink)
        _ = try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 10, sink: readerSink)
        let producer = try harness.engine.openProducer(harness.address, name: "p", remoteAddress: "a", createIfMissing: false)
        try harness.engine.deleteStream(harness.address, force: true)
        #expect(consumerSink.closedReason != nil)
        #expect(readerSink.closedReason != nil)
        #expect(!harness.engine.streamExists(harness.address))
        #expect(throws: EngineError.self) { try wait { producer.publish(PublishRequest(payload: [1]), completion: $0) } }
        consumer.acknowledge(MessageID(streamId: 1, sequence: 1))
        consumer.close()
    }

    @Test func deletedStreamStaysDeletedAfterRestart() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        try harness.publish("x")
        try harness.engine.deleteStream(harness.address, force: true)
        let restarted = try harness.restarted()
        #expect(!restarted.engine.streamExists(harness.address))
    }

    @Test func producerNamesAreUniquePerStream() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let first = try harness.engine.openProducer(harness.address, name: "p1", remoteAddress: "a", createIfMissing: false)
        #expect(throws: EngineError.self) {
            try harness.engine.openProducer(harness.address, name: "p1", remoteAddress: "b", createIfMissing: false)
        }
        let generated = try harness.engine.openProducer(harness.address, name: nil, remoteAddress: "c", createIfMissing: false)
        #expect(!generated.producerName.isEmpty)
        #expect(generated.producerName != first.producerName)
        first.close()
        _ = try harness.engine.openProducer(harness.address, name: "p1", remoteAddress: "b", createIfMissing: false)
    }

    @Test func producerOnMissingStreamNeedsCreateIfMissing() throws {
        let harness = try Harness()
        #expect(throws: EngineError.self) {
            try harness.engine.openProducer(harness.address, name: nil, remoteAddress: "a", createIfMissing: false)
        }
        _ = try harness.engine.openProducer(harness.address, name: nil, remoteAddress: "a", createIfMissing: true)
        #expect(harness.engine.streamExists(harness.address))
    }

    @Test func oversizedPayloadRejected() throws {
        let harness = try Harness(configuration: BrokerConfiguration(maxPayloadBytes: 4))
        try harness.engine.createStream(harness.address)
        #expect(throws: EngineError.self) { try harness.publish("12345") }
        #expect(try harness.publish("1234").sequence == 1)
    }

    @Test func producerOrderIsKept() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let producer = try harness.engine.openProducer(harness.address, name: "p", remoteAddress: "a", createIfMissing: false)
        let ids = try (0..<20).map { index in
            try wait { producer.publish(PublishRequest(payload: Array("\(index)".utf8)), completion: $0) }
        }
        #expect(ids.map(\.sequence) == Array(1...20))
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink)
        #expect(sink.payloads == (0..<20).map { "\($0)" })
        #expect(sink.deliveries.allSatisfy { $0.message.producerName == "p" })
    }

    @Test func publishToMissingStreamFails() throws {
        let harness = try Harness()
        #expect(throws: EngineError.self) { try harness.publish("x") }
    }

    private func created(_ harness: Harness, _ name: String, create: Bool = true) throws -> StreamAddress {
        let address = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: name)
        if create { try harness.engine.createStream(address) }
        return address
    }
}
