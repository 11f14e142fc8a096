import RivuletCore
import RivuletStorage
import Testing
@testable import RivuletBroker

/// A budget of a few small bodies: almost every message is evicted and read back from the log.
private let tinyBudget = BrokerConfiguration(messageCacheBytes: 100)

@Suite struct MessageCacheTests {
    private func streamHarness(_ configuration: BrokerConfiguration) throws -> Harness {
        let harness = try Harness(configuration: configuration)
        try harness.engine.createStream(harness.address)
        return harness
    }

    /// Acknowledges what `sink` received until `count` deliveries arrived, with reads finishing in between.
    private func consumeAll(_ harness: Harness, _ consumer: any ConsumerHandle, _ sink: RecordingSink, count: Int) {
        var acknowledged = 0
        for _ in 0..<(count * 4 + 10) where sink.deliveries.count < count {
            let deliveries = sink.deliveries
            for delivery in deliveries[acknowledged...] { consumer.acknowledge(delivery.message.id) }
            acknowledged = deliveries.count
            harness.engine.waitForReads()
        }
        for delivery in sink.deliveries[acknowledged...] { consumer.acknowledge(delivery.message.id) }
        harness.engine.waitForReads()
    }

    @Test(arguments: [SubscriptionType.exclusive, .shared, .failover, .keyShared])
    func evictedMessagesAreDeliveredInOrderFromTheLog(type: SubscriptionType) throws {
        let harness = try streamHarness(tinyBudget)
        try harness.publish(count: 40)
        #expect(harness.engine.cacheBudget.usedBytes <= 100)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: type, sink: sink) { $0.receiverQueueSize = 5 }
        consumeAll(harness, consumer, sink, count: 40)
        #expect(sink.payloads == (0..<40).map { "m\($0)" })
        #expect(harness.engine.cacheBudget.usedBytes == 0)
        #expect(try harness.engine.stats(harness.address).storageSize == 0)
    }

    @Test func keySharedKeepsPerKeyOrderWithEvictedBodies() throws {
        let harness = try streamHarness(tinyBudget)
        for index in 0..<30 { try harness.publish("m\(index)", key: "k\(index % 3)") }
        let first = RecordingSink()
        let second = RecordingSink()
        let one = try harness.subscribe(type: .keyShared, sink: first)
        let two = try harness.subscribe(type: .keyShared, sink: second)
        harness.engine.waitForReads()
        #expect(first.deliveries.count + second.deliveries.count == 30)
        for sink in [first, second] {
            let byKey = Dictionary(grouping: sink.deliveries, by: { $0.message.key ?? "" })
            for deliveries in byKey.values {
                let sequences = deliveries.map(\.message.id.sequence)
                #expect(sequences == sequences.sorted())
            }
        }
        for delivery in first.deliveries { one.acknowledge(delivery.message.id) }
        for delivery in second.deliveries { two.acknowledge(delivery.message.id) }
        #expect(harness.engine.cacheBudget.usedBytes == 0)
    }

    @Test func readerFromEarliestReadsEvictedMessages() throws {
        let harness = try streamHarness(tinyBudget)
        try harness.publish(count: 25)
        let sink = RecordingSink()
        let reader = try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 4, sink: sink)
        var acknowledged = 0
        for _ in 0..<100 where sink.deliveries.count < 25 {
            harness.engine.waitForReads()
            let deliveries = sink.deliveries
            for delivery in deliveries[acknowledged...] { reader.acknowledge(delivery.message.id) }
            acknowledged = deliveries.count
        }
        #expect(sink.payloads == (0..<25).map { "m\($0)" })
    }

    @Test func returnedMessagesAreRedeliveredFromTheLog() throws {
        let harness = try streamHarness(tinyBudget)
        try harness.publish(count: 10)
        let leaving = RecordingSink()
        let first = try harness.subscribe(type: .shared, sink: leaving)
        #expect(leaving.payloads.count == 10)
        first.close()
        let staying = RecordingSink()
        let second = try harness.subscribe(type: .shared, sink: staying)
        #expect(staying.payloads == (0..<10).map { "m\($0)" })
        #expect(staying.deliveries.allSatisfy { $0.redeliveryCount == 1 })
        for delivery in staying.deliveries { second.acknowledge(delivery.message.id) }
        #expect(harness.engine.cacheBudget.usedBytes == 0)
    }

    @Test func deadLetterOfEvictedBodyIsReadFromTheLog() throws {
        let harness = try streamHarness(BrokerConfiguration())
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) {
            $0.maxRedeliverCount = 1
            $0.ackTimeout = .seconds(1)
        }
        let id = try harness.publish("poison")
        harness.clock.advance(by: .seconds(1))
        let core = try harness.engine.stream(harness.address)
        core.state.withLock { $0.index.uncacheAll() }
        harness.clock.advance(by: .seconds(1))
        harness.engine.waitForReads()

        #expect(sink.deliveries.map(\.redeliveryCount) == [0, 1])
        let deadLetters = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "orders-sub-DLQ")
        let reader = RecordingSink()
        _ = try harness.engine.openReader(deadLetters, start: .earliest, receiverQueueSize: 10, sink: reader)
        #expect(reader.payloads == ["poison"])
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 0)
        consumer.acknowledge(id)
    }

    @Test func restartWithBacklogLargerThanCacheDeliversEverything() throws {
        let harness = try streamHarness(tinyBudget)
        _ = try harness.subscribe(type: .exclusive, sink: RecordingSink())
        let ids = try harness.publish(count: 30)
        let restarted = try harness.restarted(configuration: tinyBudget)
        // Recovery indexes the backlog without caching a body.
        #expect(restarted.engine.cacheBudget.usedBytes == 0)
        #expect(try restarted.engine.backlog(restarted.address).totalMessages == 30)
        let storageBefore = try harness.engine.stats(harness.address).storageSize
        #expect(try restarted.engine.stats(restarted.address).storageSize == storageBefore)
        let sink = RecordingSink()
        let consumer = try restarted.subscribe(type: .exclusive, sink: sink) { $0.receiverQueueSize = 7 }
        consumeAll(restarted, consumer, sink, count: 30)
        #expect(sink.ids == ids)
        #expect(restarted.engine.cacheBudget.usedBytes == 0)
        #expect(try restarted.engine.backlog(restarted.address).totalMessages == 0)
    }

    @Test func recoveryKeepsKeysAndDeliverAtInTheIndex() throws {
        let harness = try streamHarness(BrokerConfiguration())
        try harness.publish("a", key: "alpha", deliverAt: 5_000)
        try harness.publish("b")
        let restarted = try harness.restarted(configuration: tinyBudget)
        let core = try restarted.engine.stream(restarted.address)
        let entries = core.state.withLock { state in (state.index.messages[1], state.index.messages[2]) }
        #expect(entries.0?.key == "alpha")
        #expect(entries.0?.deliverAt == 5_000)
        #expect(entries.1?.key == nil)
        #expect(entries.1?.deliverAt == 0)
    }

    @Test func budgetIsSharedAcrossStreamsAndDeletionReturnsBytes() throws {
        let harness = try streamHarness(BrokerConfiguration(messageCacheBytes: 400))
        let other = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "other")
        try harness.engine.createStream(other)
        for index in 0..<20 {
            try harness.publish("a\(index)")
            try harness.publish("b\(index)", to: other)
        }
        harness.engine.waitForReads()
        #expect(harness.engine.cacheBudget.usedBytes <= 400)
        #expect(harness.engine.cacheBudget.usedBytes > 0)
        try harness.engine.deleteStream(other, force: true)
        try harness.engine.deleteStream(harness.address, force: true)
        #expect(harness.engine.cacheBudget.usedBytes == 0)
    }

    @Test func busyStreamTakesBudgetFromIdleStream() throws {
        let harness = try streamHarness(BrokerConfiguration(messageCacheBytes: 1_600))
        let busy = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "busy")
        try harness.engine.createStream(busy)
        try harness.publish(count: 100, prefix: "idle")
        let idleCore = try harness.engine.stream(harness.address)
        let busyCore = try harness.engine.stream(busy)
        let idleBefore = idleCore.state.withLock { $0.index.cache.bytes }
        #expect(idleBefore > 1_400)

        for index in 0..<10 { try harness.publish("busy\(index)", to: busy) }
        harness.engine.waitForReads()

        #expect(harness.engine.cacheBudget.usedBytes <= 1_600)
        #expect(busyCore.state.withLock { $0.index.cache.bytes } > 0)
        #expect(idleCore.state.withLock { $0.index.cache.bytes } < idleBefore)
    }

    @Test func defaultBudgetKeepsRecentBodiesCached() throws {
        let harness = try streamHarness(BrokerConfiguration())
        try harness.publish(count: 5)
        let core = try harness.engine.stream(harness.address)
        #expect(core.state.withLock { $0.index.cache.count } == 5)
    }
}
