import RivuletCore
import RivuletStorage
import Testing
@testable import RivuletBroker

@Suite struct RetentionAndStatsTests {
    @Test func backlogCountsUnacknowledged() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink)
        let ids = try harness.publish(count: 10)
        for id in ids.prefix(4) { consumer.acknowledge(id) }
        let backlog = try harness.engine.backlog(harness.address)
        #expect(backlog.subscriptionBacklogs["sub"] == 6)
        #expect(backlog.messageBacklog == 6)
        #expect(backlog.totalMessages == 6)
        let stats = try harness.engine.stats(harness.address)
        #expect(stats.msgInCounter == 10)
        #expect(stats.bytesInCounter == 20)
        #expect(stats.msgOutCounter == 10)
        #expect(stats.averageMsgSize == 2)
        #expect(stats.msgRateIn > 0)
        #expect(stats.subscriptions["sub"]?.msgBacklog == 6)
        #expect(stats.subscriptions["sub"]?.unackedMessages == 6)
        #expect(stats.subscriptions["sub"]?.consumers.count == 1)
        #expect(stats.subscriptions["sub"]?.type == .exclusive)
        #expect(stats.storageSize > 0)
    }

    @Test func publisherStatsListProducers() throws {
        let harness = try Harness()
        try harness.engine.createStream(harness.address)
        let producer = try harness.engine.openProducer(harness.address, name: "p", remoteAddress: "10.0.0.1:9", createIfMissing: false)
        _ = try wait { producer.publish(PublishRequest(payload: [1, 2, 3, 4]), completion: $0) }
        let publishers = try harness.engine.stats(harness.address).publishers
        #expect(publishers.map(\.producerName) == ["p"])
        #expect(publishers.first?.address == "10.0.0.1:9")
        #expect(publishers.first?.averageMsgSize == 4)
        producer.close()
        #expect(try harness.engine.stats(harness.address).publishers.isEmpty)
    }

    @Test func messagesWithoutSubscriptionLiveUntilTTL() throws {
        let harness = try Harness(configuration: BrokerConfiguration(defaultMessageTTL: .seconds(3600), retentionCheckInterval: .seconds(60)))
        try harness.engine.createStream(harness.address)
        try harness.publish(count: 3)
        harness.clock.advance(by: .seconds(3000))
        #expect(try harness.engine.backlog(harness.address).totalMessages == 3)
        harness.clock.advance(by: .seconds(660))
        #expect(try harness.engine.backlog(harness.address).totalMessages == 0)
        let sink = RecordingSink()
        _ = try harness.subscribe(sink: sink)
        #expect(sink.deliveries.isEmpty)
    }

    @Test func ttlExpiresUnacknowledgedMessages() throws {
        let harness = try Harness()
        try harness.engine.setMessageTTL(tenant: "acme", fabric: "_system", seconds: 120)
        #expect(harness.engine.messageTTL(tenant: "acme", fabric: "_system") == 120)
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.receiverQueueSize = 1 }
        try harness.publish(count: 3)
        harness.clock.advance(by: .seconds(60))
        let fresh = try harness.publish("fresh")
        harness.clock.advance(by: .seconds(100))
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 1)
        #expect(sink.ids.last == fresh)
        consumer.close()
        let restarted = try harness.restarted()
        #expect(try restarted.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 1)
    }

    @Test func acknowledgedByAllIsDropped() throws {
        let harness = try Harness()
        let first = try harness.subscribe("one", sink: RecordingSink())
        let second = try harness.subscribe("two", sink: RecordingSink())
        let ids = try harness.publish(count: 3)
        first.acknowledge(ids[0])
        #expect(try harness.engine.backlog(harness.address).totalMessages == 3)
        second.acknowledge(ids[0])
        second.acknowledge(ids[2])
        first.acknowledge(ids[2])
        #expect(try harness.engine.backlog(harness.address).totalMessages == 1)
    }

    @Test func clearBacklogForOneOrAllSubscriptions() throws {
        let harness = try Harness()
        _ = try harness.subscribe("one", sink: RecordingSink())
        _ = try harness.subscribe("two", sink: RecordingSink())
        try harness.publish(count: 3)
        try harness.engine.clearBacklog(tenant: "acme", fabric: "_system", scope: .global, subscription: "one")
        var backlog = try harness.engine.backlog(harness.address)
        #expect(backlog.subscriptionBacklogs == ["one": 0, "two": 3])
        try harness.engine.clearBacklog(tenant: "acme", fabric: "_system", scope: nil, subscription: nil)
        backlog = try harness.engine.backlog(harness.address)
        #expect(backlog.subscriptionBacklogs == ["one": 0, "two": 0])
        #expect(backlog.totalMessages == 0)
    }

    @Test func expireMessagesMarksOldOnesConsumed() throws {
        let harness = try Harness()
        _ = try harness.subscribe(sink: RecordingSink())
        try harness.publish(count: 2)
        harness.clock.advance(by: .seconds(100))
        try harness.publish("new")
        try harness.engine.expireMessages(harness.address, olderThanSeconds: 50)
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 1)
    }

    @Test func logsLifecycleAtInfo() throws {
        let harness = try Harness()
        _ = try harness.subscribe(sink: RecordingSink())
        try harness.publish(count: 2)
        let lines = harness.logs.lines
        #expect(lines.contains { $0.contains("msg=\"stream created\"") })
        #expect(lines.contains { $0.contains("msg=\"subscription created\"") })
        #expect(lines.contains { $0.contains("msg=\"recovery finished\"") })
        #expect(lines.count == 3)
    }
}

@Suite struct SubscriptionDeletionRetentionTests {
    @Test func deletingLaggingSubscriptionDropsConsumed() throws {
        let harness = try Harness()
        let fast = try harness.subscribe("fast", sink: RecordingSink())
        let slow = try harness.subscribe("slow", sink: RecordingSink())
        let ids = try harness.publish(count: 4)
        for id in ids.prefix(3) { fast.acknowledge(id) }
        #expect(try harness.engine.backlog(harness.address).totalMessages == 4)
        slow.close()
        try harness.engine.deleteSubscription(harness.address, subscription: "slow")
        #expect(try harness.engine.backlog(harness.address).totalMessages == 1)
    }

    @Test func lastSubscriptionDeletedKeepsMessagesForTTL() throws {
        let harness = try Harness()
        let consumer = try harness.subscribe(sink: RecordingSink())
        try harness.publish(count: 2)
        try consumer.unsubscribe()
        #expect(try harness.engine.backlog(harness.address).totalMessages == 2)
    }
}
