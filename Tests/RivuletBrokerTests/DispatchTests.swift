import RivuletCore
import RivuletStorage
import Testing
@testable import RivuletBroker

@Suite struct DispatchTests {
    @Test func windowOfOneIgnoresDuplicateAcks() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.receiverQueueSize = 1 }
        let ids = try harness.publish(count: 4)
        #expect(sink.ids == [ids[0]])
        consumer.acknowledge(ids[0])
        #expect(sink.ids == [ids[0], ids[1]])
        consumer.acknowledge(ids[0])
        consumer.acknowledge(ids[0])
        consumer.acknowledge(MessageID(streamId: 99, sequence: 1))
        consumer.acknowledge(MessageID(streamId: ids[0].streamId, sequence: 999))
        #expect(sink.ids == [ids[0], ids[1]])
        #expect(try harness.engine.stats(harness.address).subscriptions["sub"]?.consumers.first?.unackedMessages == 1)
    }

    @Test func zeroQueueSizeMeansOne() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink) { $0.receiverQueueSize = 0 }
        try harness.publish(count: 3)
        #expect(sink.deliveries.count == 1)
    }

    @Test func queueSizeIsCappedAtMaximum() throws {
        let harness = try Harness(configuration: BrokerConfiguration(maxReceiverQueueSize: 3))
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink) { $0.receiverQueueSize = 50 }
        try harness.publish(count: 5)
        #expect(sink.deliveries.count == 3)
    }

    @Test func pullModePermitsAddUp() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.pullMode = true }
        let ids = try harness.publish(count: 10)
        #expect(sink.deliveries.isEmpty)
        consumer.permit(2)
        consumer.permit(2)
        consumer.permit(2)
        #expect(sink.ids == Array(ids.prefix(6)))
        consumer.acknowledge(ids[0])
        #expect(sink.deliveries.count == 6)
        consumer.permit(1)
        #expect(sink.ids.last == ids[6])
    }

    @Test func readerStartsEarliestLatestOrAfterId() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let ids = try harness.publish(count: 4)
        let earliest = RecordingSink()
        let latest = RecordingSink()
        let after = RecordingSink()
        _ = try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 100, sink: earliest)
        _ = try harness.engine.openReader(harness.address, start: .latest, receiverQueueSize: 100, sink: latest)
        _ = try harness.engine.openReader(harness.address, start: .after(ids[1]), receiverQueueSize: 100, sink: after)
        #expect(earliest.ids == ids)
        #expect(latest.ids.isEmpty)
        #expect(after.ids == [ids[2], ids[3]])
        let next = try harness.publish("m4")
        #expect(latest.ids == [next])
        #expect(try harness.engine.subscriptions(harness.address).isEmpty)
    }

    @Test func readerWindowFreesOneSlotPerAck() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let ids = try harness.publish(count: 5)
        let sink = RecordingSink()
        let reader = try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 2, sink: sink)
        #expect(sink.ids == Array(ids.prefix(2)))
        reader.acknowledge(ids[0])
        #expect(sink.ids == Array(ids.prefix(3)))
        reader.close()
        try harness.publish("late")
        #expect(sink.deliveries.count == 3)
    }

    @Test func readerNeverCreatesStreams() throws {
        let harness = try Harness()
        #expect(throws: EngineError.self) {
            try harness.engine.openReader(harness.address, start: .earliest, receiverQueueSize: 1, sink: RecordingSink())
        }
        #expect(!harness.engine.streamExists(harness.address))
    }

    @Test func negativeAckRedeliversAfterDelay() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: .shared, sink: sink) { $0.negativeAckRedeliveryDelay = .seconds(5) }
        let id = try harness.publish("x")
        consumer.negativeAcknowledge(id)
        harness.clock.advance(by: .seconds(4))
        #expect(sink.deliveries.count == 1)
        harness.clock.advance(by: .seconds(1))
        #expect(sink.ids == [id, id])
        #expect(sink.deliveries.last?.redeliveryCount == 1)
    }

    @Test func ackTimeoutRedeliversUnacknowledged() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.ackTimeout = .seconds(10) }
        let ids = try harness.publish(count: 2)
        consumer.acknowledge(ids[0])
        harness.clock.advance(by: .seconds(10))
        #expect(sink.ids == [ids[0], ids[1], ids[1]])
        #expect(sink.deliveries.last?.redeliveryCount == 1)
    }

    @Test func redeliveryTakesNoSecondCredit() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) {
            $0.receiverQueueSize = 1
            $0.ackTimeout = .seconds(5)
        }
        let ids = try harness.publish(count: 2)
        harness.clock.advance(by: .seconds(5))
        #expect(sink.ids == [ids[0], ids[0]])
        #expect(try harness.engine.stats(harness.address).subscriptions["sub"]?.consumers.first?.unackedMessages == 1)
        consumer.acknowledge(ids[0])
        #expect(sink.ids == [ids[0], ids[0], ids[1]])
    }

    @Test func shortAckTimeoutRejected() throws {
        let harness = try Harness()
        #expect(throws: EngineError.self) {
            try harness.subscribe(sink: RecordingSink()) { $0.ackTimeout = .milliseconds(500) }
        }
    }

    @Test func deliverAtHoldsMessageBack() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        _ = try harness.subscribe(type: .shared, sink: sink)
        let later = try harness.publish("later", deliverAt: harness.clock.nowMilliseconds + 30_000)
        let now = try harness.publish("now")
        #expect(sink.ids == [now])
        harness.clock.advance(by: .seconds(29))
        #expect(sink.ids == [now])
        harness.clock.advance(by: .seconds(1))
        #expect(sink.ids == [now, later])
        #expect(sink.deliveries.last?.redeliveryCount == 0)
    }

    @Test func failoverActiveConsumerAndTakeover() throws {
        let harness = try Harness()
        let primary = RecordingSink()
        let standby = RecordingSink()
        let backup = RecordingSink()
        _ = try harness.subscribe(type: .failover, sink: standby) { $0.priorityLevel = 1 }
        let active = try harness.subscribe(type: .failover, sink: primary) { $0.priorityLevel = 0 }
        _ = try harness.subscribe(type: .failover, sink: backup) { $0.priorityLevel = 1 }
        let ids = try harness.publish(count: 3)
        #expect(primary.ids == ids)
        #expect(standby.deliveries.isEmpty)
        active.acknowledge(ids[0])
        active.close()
        #expect(standby.ids == [ids[1], ids[2]])
        #expect(backup.deliveries.isEmpty)
        let next = try harness.publish("m3")
        #expect(standby.ids.last == next)
    }

    @Test func keySharedKeepsKeyOnOneConsumer() throws {
        let harness = try Harness()
        let first = RecordingSink()
        let second = RecordingSink()
        _ = try harness.subscribe(type: .keyShared, sink: first)
        let closing = try harness.subscribe(type: .keyShared, sink: second)
        var ids: [String: [MessageID]] = [:]
        for round in 0..<4 {
            for key in ["a", "b", "c", "d", "e"] { ids[key, default: []].append(try harness.publish("\(key)\(round)", key: key)) }
            try harness.publish("none\(round)")
        }
        for sink in [first, second] {
            let keys = sink.deliveries.map { $0.message.key ?? "" }
            for key in Set(keys) {
                #expect(keys.filter { $0 == key }.count == 4, "key \(key) split across consumers")
            }
        }
        #expect(first.deliveries.count + second.deliveries.count == 24)
        let moved = second.ids
        closing.close()
        #expect(first.deliveries.suffix(moved.count).map(\.message.id).sorted() == moved.sorted())
    }

    @Test func keySharedBusyOwnerDoesNotBlockOtherKeys() throws {
        let harness = try Harness()
        let sinks = [RecordingSink(), RecordingSink()]
        for sink in sinks { _ = try harness.subscribe(type: .keyShared, sink: sink) { $0.receiverQueueSize = 1 } }
        for key in ["a", "a", "a", "b", "c", "d", "e", "f"] { try harness.publish(key, key: key) }
        #expect(sinks.allSatisfy { $0.deliveries.count == 1 })
    }
}

@Suite struct DeadLetterTests {
    @Test func exceededRedeliveriesMoveToDeadLetterStream() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: .shared, sink: sink) {
            $0.maxRedeliverCount = 1
            $0.negativeAckRedeliveryDelay = .seconds(1)
        }
        let id = try harness.publish("poison")
        consumer.negativeAcknowledge(id)
        harness.clock.advance(by: .seconds(1))
        #expect(sink.deliveries.map(\.redeliveryCount) == [0, 1])
        consumer.negativeAcknowledge(id)
        harness.clock.advance(by: .seconds(1))
        #expect(sink.deliveries.count == 2)
        let deadLetters = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "orders-sub-DLQ")
        #expect(harness.engine.streamExists(deadLetters))
        let reader = RecordingSink()
        _ = try harness.engine.openReader(deadLetters, start: .earliest, receiverQueueSize: 10, sink: reader)
        #expect(reader.payloads == ["poison"])
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 0)
    }

    @Test func namedDeadLetterTopicIsUsed() throws {
        let harness = try Harness()
        let consumer = try harness.subscribe(type: .shared, sink: RecordingSink()) {
            $0.maxRedeliverCount = 1
            $0.deadLetterTopic = "c8locals.parked"
            $0.negativeAckRedeliveryDelay = .seconds(1)
        }
        let id = try harness.publish("x")
        for _ in 0..<2 {
            consumer.negativeAcknowledge(id)
            harness.clock.advance(by: .seconds(1))
        }
        #expect(harness.engine.streamExists(StreamAddress(tenant: "acme", fabric: "_system", scope: .local, name: "parked")))
    }

    @Test func invalidRedeliveryLimitRejected() throws {
        let harness = try Harness()
        #expect(throws: EngineError.self) { try harness.subscribe(sink: RecordingSink()) { $0.maxRedeliverCount = 0 } }
        #expect(throws: EngineError.self) { try harness.subscribe(sink: RecordingSink()) { $0.deadLetterTopic = "x" } }
    }
}
