import RivuletCore
import RivuletStorage
import Testing
@testable import RivuletBroker

/// `setWritable(false)` on a consumer or reader pauses its deliveries as if it had no credit, and
/// `setWritable(true)` resumes them where they stopped.
@Suite struct SlowConsumerTests {
    @Test(arguments: [SubscriptionType.exclusive, .shared, .failover, .keyShared])
    func pausedConsumerResumesInOrder(type: SubscriptionType) throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: type, sink: sink)
        let before = try harness.publish(count: 2, prefix: "before")
        consumer.setWritable(false)
        let during = try harness.publish(count: 3, prefix: "during")
        #expect(sink.ids == before)

        consumer.setWritable(true)
        #expect(sink.ids == before + during)
        let after = try harness.publish(count: 2, prefix: "after")
        #expect(sink.ids == before + during + after)
        #expect(sink.deliveries.allSatisfy { $0.redeliveryCount == 0 })
    }

    @Test func repeatedCallsChangeNothing() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        consumer.setWritable(false)
        consumer.setWritable(false)
        let ids = try harness.publish(count: 2)
        #expect(sink.deliveries.isEmpty)
        consumer.setWritable(true)
        consumer.setWritable(true)
        #expect(sink.ids == ids)
    }

    @Test func pausedConsumerKeepsItsUnacknowledgedMessages() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        let first = try harness.publish("first")
        consumer.setWritable(false)
        let second = try harness.publish("second")
        let consumers = try harness.engine.stats(harness.address).subscriptions["sub"]?.consumers
        #expect(consumers?.first?.unackedMessages == 1)

        consumer.acknowledge(first)
        #expect(sink.ids == [first])
        consumer.setWritable(true)
        #expect(sink.ids == [first, second])
    }

    @Test func otherSharedConsumersKeepReceiving() throws {
        let harness = try Harness()
        let paused = RecordingSink()
        let active = RecordingSink()
        let pausedConsumer = try harness.subscribe(type: .shared, sink: paused)
        _ = try harness.subscribe(type: .shared, sink: active)
        pausedConsumer.setWritable(false)
        let ids = try harness.publish(count: 6)
        #expect(paused.deliveries.isEmpty)
        #expect(active.ids == ids)

        pausedConsumer.setWritable(true)
        let next = try harness.publish(count: 2, prefix: "next")
        #expect(paused.ids == [next[0]])
        #expect(active.ids == ids + [next[1]])
    }

    @Test func failoverStandbyDoesNotTakeOverFromPausedActive() throws {
        let harness = try Harness()
        let activeSink = RecordingSink()
        let standbySink = RecordingSink()
        let active = try harness.subscribe(type: .failover, sink: activeSink)
        _ = try harness.subscribe(type: .failover, sink: standbySink)
        active.setWritable(false)
        let ids = try harness.publish(count: 3)
        #expect(activeSink.deliveries.isEmpty)
        #expect(standbySink.deliveries.isEmpty)
        active.setWritable(true)
        #expect(activeSink.ids == ids)
    }

    @Test func keySharedParksOnlyThePausedConsumersKeys() throws {
        let harness = try Harness()
        let firstSink = RecordingSink()
        let secondSink = RecordingSink()
        let first = try harness.subscribe(type: .keyShared, sink: firstSink)
        _ = try harness.subscribe(type: .keyShared, sink: secondSink)
        // Learn which consumer each key goes to, with both writable.
        var owners: [String: RecordingSink] = [:]
        for key in ["a", "b", "c", "d", "e", "f"] {
            let id = try harness.publish("probe-\(key)", key: key)
            owners[key] = firstSink.ids.contains(id) ? firstSink : secondSink
        }
        let firstKeys = owners.filter { $0.value === firstSink }.map(\.key).sorted()
        let secondKeys = owners.filter { $0.value === secondSink }.map(\.key).sorted()
        try #require(!firstKeys.isEmpty && !secondKeys.isEmpty, "every key went to one consumer: \(owners.keys)")
        let firstBefore = firstSink.deliveries.count

        first.setWritable(false)
        var parked: [MessageID] = []
        var passed: [MessageID] = []
        for round in 0..<2 {
            for key in firstKeys { parked.append(try harness.publish("\(key)\(round)", key: key)) }
            for key in secondKeys { passed.append(try harness.publish("\(key)\(round)", key: key)) }
        }
        #expect(firstSink.deliveries.count == firstBefore)
        #expect(Array(secondSink.ids.suffix(passed.count)) == passed)

        first.setWritable(true)
        #expect(Array(firstSink.ids.dropFirst(firstBefore)) == parked)
    }

    @Test func ackTimeoutStillRedeliversWhilePaused() throws {
        let harness = try Harness()
        let pausedSink = RecordingSink()
        let otherSink = RecordingSink()
        let paused = try harness.subscribe(type: .shared, sink: pausedSink) { $0.ackTimeout = .seconds(10) }
        let id = try harness.publish("only")
        #expect(pausedSink.ids == [id])
        paused.setWritable(false)
        _ = try harness.subscribe(type: .shared, sink: otherSink)
        #expect(otherSink.deliveries.isEmpty)

        harness.clock.advance(by: .seconds(10))
        #expect(otherSink.ids == [id])
        #expect(otherSink.deliveries.first?.redeliveryCount == 1)
        #expect(pausedSink.ids == [id])
    }

    @Test func pausedConsumerGetsEvictedMessagesFromTheLog() throws {
        let harness = try Harness(configuration: BrokerConfiguration(messageCacheBytes: 100))
        try harness.engine.createStream(harness.address)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        consumer.setWritable(false)
        let ids = try harness.publish(count: 30)
        #expect(sink.deliveries.isEmpty)
        #expect(harness.engine.cacheBudget.usedBytes <= 100)

        consumer.setWritable(true)
        for _ in 0..<40 where sink.deliveries.count < ids.count { harness.engine.waitForReads() }
        #expect(sink.ids == ids)
    }

    @Test func pausedReaderResumesWhereItStopped() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let sink = RecordingSink()
        let reader = try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 100, sink: sink)
        let before = try harness.publish(count: 2, prefix: "before")
        reader.setWritable(false)
        let during = try harness.publish(count: 3, prefix: "during")
        #expect(sink.ids == before)

        reader.setWritable(true)
        #expect(sink.ids == before + during)
        let after = try harness.publish("after")
        #expect(sink.ids == before + during + [after])
    }

    @Test func pausedReaderKeepsItsWindow() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let sink = RecordingSink()
        let reader = try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 2, sink: sink)
        let ids = try harness.publish(count: 4)
        #expect(sink.ids == Array(ids.prefix(2)))
        reader.setWritable(false)
        reader.acknowledge(ids[0])
        #expect(sink.ids == Array(ids.prefix(2)))
        reader.setWritable(true)
        #expect(sink.ids == Array(ids.prefix(3)))
    }

    // Payloads "m0" ... "m9" are 2 bytes each, so a burst limit of 5 bytes pauses after the third message.
    private static let burstLimited = BrokerConfiguration(maxDispatchBurstBytes: 5)

    @Test func burstPastLimitPausesConsumer() throws {
        let harness = try Harness(configuration: Self.burstLimited)
        try harness.engine.createStream(harness.address)
        let ids = try harness.publish(count: 10)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        #expect(sink.ids == Array(ids[0..<3]))

        // Acknowledging frees credit, but only the sink's report resumes the consumer.
        for id in ids[0..<3] { consumer.acknowledge(id) }
        #expect(sink.ids == Array(ids[0..<3]))
        consumer.setWritable(true)
        #expect(sink.ids == Array(ids[0..<6]))
        // Each report of the sink after a burst starts the next burst.
        consumer.setWritable(true)
        #expect(sink.ids == Array(ids[0..<9]))
    }

    @Test func burstLimitCountsEachDispatchPass() throws {
        let harness = try Harness(configuration: Self.burstLimited)
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink)
        // Each publish dispatches on its own, two bytes at a time, so no pass passes the limit.
        let ids = try harness.publish(count: 6)
        #expect(sink.ids == ids)
    }

    @Test func burstPausedSharedConsumerLeavesRestToOthers() throws {
        let harness = try Harness(configuration: Self.burstLimited)
        try harness.engine.createStream(harness.address)
        let ids = try harness.publish(count: 10)
        let first = RecordingSink()
        let second = RecordingSink()
        _ = try harness.subscribe(type: .shared, sink: first)
        #expect(first.ids == Array(ids[0..<3]))
        _ = try harness.subscribe(type: .shared, sink: second)
        #expect(second.ids == Array(ids[3..<6]))
    }

    @Test func burstPastLimitPausesReader() throws {
        let harness = try Harness(configuration: Self.burstLimited)
        try harness.engine.createStream(harness.address)
        let ids = try harness.publish(count: 10)
        let sink = RecordingSink()
        let reader = try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 100, sink: sink)
        #expect(sink.ids == Array(ids[0..<3]))
        reader.setWritable(true)
        #expect(sink.ids == Array(ids[0..<6]))
    }
}
