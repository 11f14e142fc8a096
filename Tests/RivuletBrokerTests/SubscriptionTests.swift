import Dispatch
import RivuletCore
import Synchronization
import RivuletStorage
import Testing
@testable import RivuletBroker

@Suite struct SubscriptionTests {
    @Test func newSubscriptionGetsEarlierMessages() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        try harness.publish(count: 3)
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink)
        #expect(sink.payloads == ["m0", "m1", "m2"])
        #expect(sink.deliveries.allSatisfy { $0.redeliveryCount == 0 })
        try harness.publish("m3")
        #expect(sink.payloads.last == "m3")
    }

    @Test func latestSkipsEarlierMessages() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        try harness.publish(count: 3)
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink) { $0.initialPosition = .latest }
        #expect(sink.deliveries.isEmpty)
        try harness.publish("after")
        #expect(sink.payloads == ["after"])
    }

    @Test func existingSubscriptionKeepsCursor() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let first = RecordingSink()
        let consumer = try harness.subscribe(sink: first)
        let ids = try harness.publish(count: 2)
        consumer.acknowledge(ids[0])
        consumer.close()
        let second = RecordingSink()
        _ = try harness.subscribe(sink: second) { $0.initialPosition = .latest }
        #expect(second.payloads == ["m1"])
    }

    @Test func restartRedeliversOnlyUnacknowledged() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let ids = try harness.publish(count: 5)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        #expect(sink.deliveries.count == 5)
        consumer.acknowledge(ids[0])
        consumer.acknowledge(ids[1])
        consumer.acknowledge(ids[3])

        // No shutdown: the new engine recovers only what reached the log.
        let restarted = try harness.restarted()
        let after = RecordingSink()
        _ = try restarted.subscribe(sink: after)
        #expect(after.payloads == ["m2", "m4"])
        #expect(after.ids == [ids[2], ids[4]])
        #expect(try restarted.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 2)
    }

    @Test func restartKeepsSubscriptionType() throws {
        let harness = try Harness()
        try harness.subscribe(type: .failover, sink: RecordingSink()).close()
        let restarted = try harness.restarted()
        #expect(try restarted.engine.stats(harness.address).subscriptions["sub"]?.type == .failover)
    }

    @Test func restartFromCheckpointKeepsState() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        try harness.engine.setMessageTTL(tenant: "acme", fabric: "_system", seconds: 7200)
        let ids = try harness.publish(count: 4)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.type = .shared }
        consumer.acknowledge(ids[1])
        harness.engine.shutdown()
        #expect(sink.closedReason != nil)
        #expect(try harness.log.latestCheckpoint() != nil)

        let restarted = try harness.restarted()
        #expect(restarted.engine.messageTTL(tenant: "acme", fabric: "_system") == 7200)
        #expect(try restarted.engine.subscriptions(harness.address) == ["sub"])
        let after = RecordingSink()
        _ = try restarted.subscribe(sink: after) { $0.type = .shared }
        #expect(after.payloads == ["m0", "m2", "m3"])
        #expect(try restarted.publish("m4").sequence == 5)
    }

    @Test func checkpointReleasesConsumedLog() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        let ids = try harness.publish(count: 6)
        for id in ids.prefix(4) { consumer.acknowledge(id) }
        harness.engine.checkpointQueue.sync { harness.engine.writeCheckpoint() }
        let restarted = try harness.restarted()
        let after = RecordingSink()
        consumer.close()
        _ = try restarted.subscribe(sink: after)
        #expect(after.payloads == ["m4", "m5"])
        #expect(throws: StorageError.self) { try harness.log.read(at: LogPosition(0)) }
    }

    @Test func exclusiveSecondConsumerIsBusy() throws {
        let harness = try Harness()
        _ = try harness.subscribe(sink: RecordingSink())
        #expect {
            try harness.subscribe(sink: RecordingSink())
        } throws: { error in
            guard case EngineError.consumerBusy = error else { return false }
            return true
        }
    }

    @Test func typeMismatchIsBusy() throws {
        let harness = try Harness()
        _ = try harness.subscribe(type: .shared, sink: RecordingSink())
        #expect {
            try harness.subscribe(type: .failover, sink: RecordingSink())
        } throws: { error in
            guard case EngineError.consumerBusy = error else { return false }
            return true
        }
        _ = try harness.subscribe(type: .shared, sink: RecordingSink())
    }

    @Test func typeMayChangeOnceConsumersLeave() throws {
        let harness = try Harness()
        let consumer = try harness.subscribe(type: .shared, sink: RecordingSink())
        consumer.close()
        _ = try harness.subscribe(type: .exclusive, sink: RecordingSink())
        #expect(try harness.engine.stats(harness.address).subscriptions["sub"]?.type == .exclusive)
    }

    @Test func invalidSubscriptionNameRejected() throws {
        let harness = try Harness()
        #expect(throws: EngineError.self) { try harness.subscribe("a/b", sink: RecordingSink()) }
    }

    @Test func sharedDispatchesRoundRobin() throws {
        let harness = try Harness()
        let first = RecordingSink()
        let second = RecordingSink()
        _ = try harness.subscribe(type: .shared, sink: first)
        _ = try harness.subscribe(type: .shared, sink: second)
        try harness.publish(count: 6)
        #expect(first.payloads == ["m0", "m2", "m4"])
        #expect(second.payloads == ["m1", "m3", "m5"])
    }

    @Test func closedConsumerMessagesGoToOtherWithCount() throws {
        let harness = try Harness()
        let first = RecordingSink()
        let second = RecordingSink()
        let closing = try harness.subscribe(type: .shared, sink: first) { $0.receiverQueueSize = 2 }
        let staying = try harness.subscribe(type: .shared, sink: second) { $0.receiverQueueSize = 10 }
        let ids = try harness.publish(count: 2)
        #expect(first.ids == [ids[0]])
        #expect(second.ids == [ids[1]])
        staying.acknowledge(ids[1])
        closing.close()
        #expect(second.ids == [ids[1], ids[0]])
        #expect(second.deliveries.last?.redeliveryCount == 1)
        try harness.publish("m2")
        #expect(first.deliveries.count == 1)
    }

    @Test func exclusiveReconnectGetsUnacknowledged() throws {
        let harness = try Harness()
        let first = RecordingSink()
        let consumer = try harness.subscribe(sink: first)
        let ids = try harness.publish(count: 3)
        consumer.acknowledge(ids[1])
        consumer.close()
        let second = RecordingSink()
        _ = try harness.subscribe(sink: second)
        #expect(second.ids == [ids[0], ids[2]])
        #expect(second.deliveries.map(\.redeliveryCount) == [1, 1])
    }

    @Test func cumulativeAckOnExclusive() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        let ids = try harness.publish(count: 5)
        try consumer.acknowledgeCumulative(ids[2])
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 2)
        #expect(try harness.engine.stats(harness.address).subscriptions["sub"]?.unackedMessages == 2)
    }

    @Test func cumulativeAckNotAllowedOnShared() throws {
        let harness = try Harness()
        for type in [SubscriptionType.shared, .keyShared] {
            let consumer = try harness.subscribe(type.rawValue, type: type, sink: RecordingSink())
            #expect {
                try consumer.acknowledgeCumulative(MessageID(streamId: 1, sequence: 1))
            } throws: { error in
                guard case EngineError.notAllowed = error else { return false }
                return true
            }
        }
    }

    @Test func unsubscribeDeletesOnlyWhenAlone() throws {
        let harness = try Harness()
        let first = try harness.subscribe(type: .shared, sink: RecordingSink())
        let second = try harness.subscribe(type: .shared, sink: RecordingSink())
        #expect(throws: EngineError.self) { try first.unsubscribe() }
        second.close()
        try first.unsubscribe()
        #expect(try harness.engine.subscriptions(harness.address).isEmpty)
        let restarted = try harness.restarted()
        #expect(try restarted.engine.subscriptions(harness.address).isEmpty)
    }

    @Test func deleteSubscriptionChecksConsumers() throws {
        let harness = try Harness()
        let consumer = try harness.subscribe(sink: RecordingSink())
        #expect {
            try harness.engine.deleteSubscription(harness.address, subscription: "sub")
        } throws: { error in
            guard case EngineError.subscriptionHasConsumers = error else { return false }
            return true
        }
        #expect {
            try harness.engine.deleteSubscription(harness.address, subscription: "missing")
        } throws: { error in
            guard case EngineError.subscriptionNotFound = error else { return false }
            return true
        }
        consumer.close()
        try harness.engine.deleteSubscription(harness.address, subscription: "sub")
        #expect(try harness.engine.subscriptions(harness.address).isEmpty)
    }

    @Test func unsubscribeEverywhereCoversFabric() throws {
        let harness = try Harness()
        let other = StreamAddress(tenant: "acme", fabric: "_system", scope: .local, name: "audit")
        try harness.engine.createStream(other)
        try harness.subscribe("s", sink: RecordingSink()).close()
        try harness.engine.subscribe(other, options: ConsumerOptions(subscription: "s"), remoteAddress: "a", createIfMissing: false, sink: RecordingSink()).close()
        try harness.engine.unsubscribeEverywhere(tenant: "acme", fabric: "_system", scope: nil, subscription: "s")
        #expect(try harness.engine.subscriptions(harness.address).isEmpty)
        #expect(try harness.engine.subscriptions(other).isEmpty)
    }
}

@Suite struct CheckpointTests {
    @Test func growthTriggersCheckpointAndReplayResumesAfterIt() throws {
        let harness = try Harness(configuration: BrokerConfiguration(checkpointIntervalBytes: 5))
        try harness.engine.createStream(harness.address)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.type = .shared }
        let ids = try harness.publish(count: 8)
        harness.engine.checkpointQueue.sync {}
        let checkpoint = try #require(try harness.log.latestCheckpoint())
        #expect(checkpoint.position > LogPosition(0))
        consumer.acknowledge(ids[0])
        consumer.acknowledge(ids[5])
        try harness.publish("late")
        harness.engine.checkpointQueue.sync {}

        let restarted = try harness.restarted()
        let after = RecordingSink()
        _ = try restarted.subscribe(sink: after) { $0.type = .shared }
        #expect(after.payloads == ["m1", "m2", "m3", "m4", "m6", "m7", "late"])
        #expect(try restarted.publish("next").sequence == 10)
    }
}

extension ThreadedTests {
    @Suite struct AutoCreateTests {
        @Test func concurrentAutoCreateOpensOneStream() throws {
            let log = AsyncLog()
            let engine = try EmbeddedEngine(log: log, configuration: BrokerConfiguration(), logger: Logger(label: "b", sink: MemorySink()), clock: ManualClock())
            let address = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "auto")
            let failures = Atomic<Int>(0)
            let done = DispatchSemaphore(value: 0)
            for index in 0..<4 {
                DispatchQueue.global().async {
                    do {
                        _ = try engine.openProducer(address, name: "p\(index)", remoteAddress: "a", createIfMissing: true)
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                    done.signal()
                }
            }
            for _ in 0..<4 { #expect(done.wait(timeout: .now() + .seconds(10)) == .success) }
            #expect(failures.load(ordering: .relaxed) == 0)
            #expect(engine.listStreams(tenant: "acme", fabric: "_system", scope: nil).count == 1)
            #expect(try engine.stats(address).publishers.count == 4)
        }
    }
}
