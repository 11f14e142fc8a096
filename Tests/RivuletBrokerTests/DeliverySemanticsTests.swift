import RivuletCore
import RivuletStorage
import Synchronization
import Testing
@testable import RivuletBroker

extension Harness {
    /// Runs `body` on the live state of one subscription, for checks of the dispatcher's bookkeeping.
    func inspect<Value: Sendable>(_ subscription: String = "sub", _ body: (SubscriptionState) -> Value) throws -> Value? {
        let core = try engine.stream(address)
        return core.state.withLock { state in state.subscriptions[subscription].map(body) }
    }
}

/// Publishes `rounds` messages per key, round after round, and returns their ids per key in publish order.
private func publishKeyed(_ harness: Harness, keys: [String], rounds: Range<Int>) throws -> [String: [MessageID]] {
    var ids: [String: [MessageID]] = [:]
    for round in rounds {
        for key in keys { ids[key, default: []].append(try harness.publish("\(key)-\(round)", key: key)) }
    }
    return ids
}

private func keys(of sink: RecordingSink) -> Set<String> {
    Set(sink.deliveries.map { $0.message.key ?? "" })
}

@Suite struct KeySharedOrderingTests {
    let keyNames = (0..<8).map { "k\($0)" }

    @Test func joinedConsumerWaitsForKeysInFlight() throws {
        let harness = try Harness()
        let early = RecordingSink()
        let joined = RecordingSink()
        let earlyConsumer = try harness.subscribe(type: .keyShared, sink: early)
        _ = try publishKeyed(harness, keys: keyNames, rounds: 0..<1)
        _ = try harness.subscribe(type: .keyShared, sink: joined)
        _ = try publishKeyed(harness, keys: keyNames, rounds: 1..<2)

        #expect(early.deliveries.count == 16)
        #expect(joined.deliveries.isEmpty)

        for id in early.ids { earlyConsumer.acknowledge(id) }
        _ = try publishKeyed(harness, keys: keyNames, rounds: 2..<3)

        #expect(!joined.deliveries.isEmpty)
        #expect(early.deliveries.count + joined.deliveries.count == 24)
        let earlyLater = Set(early.deliveries.filter { $0.message.id.sequence > 16 }.map { $0.message.key ?? "" })
        #expect(earlyLater.isDisjoint(with: keys(of: joined)))
    }

    @Test func keyMovesOnlyAfterItsLastAck() throws {
        let harness = try Harness()
        let early = RecordingSink()
        let joined = RecordingSink()
        let earlyConsumer = try harness.subscribe(type: .keyShared, sink: early)
        let ids = try publishKeyed(harness, keys: keyNames, rounds: 0..<2)
        _ = try harness.subscribe(type: .keyShared, sink: joined)
        // A key that the joined consumer wins once the key is idle.
        let key = try #require(try harness.inspect { subscription in
            keyNames.first { subscription.hashedConsumerIndex(of: $0) == 1 }
        } ?? nil)

        earlyConsumer.acknowledge(ids[key]![0])
        let third = try harness.publish("\(key)-2", key: key)
        #expect(early.deliveries.last?.message.id == third)
        #expect(joined.deliveries.isEmpty)

        earlyConsumer.acknowledge(ids[key]![1])
        earlyConsumer.acknowledge(third)
        let fourth = try harness.publish("\(key)-3", key: key)
        #expect(joined.ids == [fourth])
    }

    @Test func leavingConsumerMovesOnlyItsOwnKeys() throws {
        let harness = try Harness()
        let sinks = [RecordingSink(), RecordingSink(), RecordingSink()]
        var consumers: [any ConsumerHandle] = []
        for sink in sinks { consumers.append(try harness.subscribe(type: .keyShared, sink: sink)) }
        let manyKeys = (0..<30).map { "key\($0)" }
        let before = try #require(try harness.inspect { subscription in
            manyKeys.map { subscription.consumers[subscription.hashedConsumerIndex(of: $0)].id }
        })
        let leavingId = try #require(try harness.inspect { $0.consumers[2].id })

        consumers[2].close()

        let after = try #require(try harness.inspect { subscription in
            manyKeys.map { subscription.consumers[subscription.hashedConsumerIndex(of: $0)].id }
        })
        for (owner, newOwner) in zip(before, after) where owner != newOwner {
            #expect(owner == leavingId, "a key of a consumer that stayed moved")
        }
        #expect(Set(before).count == 3)
        #expect(!after.contains(leavingId))
    }

    @Test func keyMapHoldsOnlyKeysInFlight() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: .keyShared, sink: sink)
        _ = try harness.subscribe(type: .keyShared, sink: RecordingSink())
        let ids = try publishKeyed(harness, keys: keyNames, rounds: 0..<2)
        let delivered = sink.ids
        #expect(try harness.inspect { $0.keyOwners.count } == keyNames.count)

        for id in delivered { consumer.acknowledge(id) }

        #expect(try harness.inspect { $0.keyOwners.count } == keyNames.count - keys(of: sink).count)
        #expect(try harness.inspect { $0.outstandingKeys.count } == ids.values.joined().count - delivered.count)
    }

    @Test func leavingConsumerKeysKeepOrder() throws {
        let harness = try Harness()
        let staying = RecordingSink()
        let leaving = RecordingSink()
        _ = try harness.subscribe(type: .keyShared, sink: staying)
        let leavingConsumer = try harness.subscribe(type: .keyShared, sink: leaving)
        let ids = try publishKeyed(harness, keys: keyNames, rounds: 0..<2)
        let moved = keys(of: leaving)
        #expect(!moved.isEmpty)

        leavingConsumer.close()
        let later = try publishKeyed(harness, keys: keyNames, rounds: 2..<3)

        for key in moved {
            let received = staying.deliveries.filter { $0.message.key == key }
            #expect(received.map(\.message.id) == ids[key]! + later[key]!)
            #expect(received.map(\.redeliveryCount) == [1, 1, 0])
        }
    }

    @Test func keylessMessagesFormOneGroup() throws {
        let harness = try Harness()
        let sinks = [RecordingSink(), RecordingSink(), RecordingSink()]
        for sink in sinks { _ = try harness.subscribe(type: .keyShared, sink: sink) }
        for index in 0..<6 { try harness.publish("none-\(index)") }

        let receivers = sinks.filter { !$0.deliveries.isEmpty }
        #expect(receivers.count == 1)
        #expect(receivers.first?.payloads == (0..<6).map { "none-\($0)" })
    }

    @Test func negativeAckReleasesKeySlot() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: .keyShared, sink: sink) { $0.negativeAckRedeliveryDelay = .seconds(1) }
        let id = try harness.publish("a", key: "a")
        consumer.negativeAcknowledge(id)
        #expect(try harness.inspect { $0.keyOwners.isEmpty } == true)

        harness.clock.advance(by: .seconds(1))

        #expect(sink.ids == [id, id])
        #expect(try harness.inspect { $0.keyOwners["a"]?.outstandingCount } == 1)
    }
}

@Suite struct RedeliveryCountTests {
    @Test(arguments: SubscriptionType.allCases)
    func negativeAckCountsForEveryType(type: SubscriptionType) throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: type, sink: sink) { $0.negativeAckRedeliveryDelay = .milliseconds(200) }
        let id = try harness.publish("x")
        consumer.negativeAcknowledge(id)
        harness.clock.advance(by: .milliseconds(200))
        consumer.negativeAcknowledge(id)
        harness.clock.advance(by: .milliseconds(200))

        #expect(sink.ids == [id, id, id])
        #expect(sink.deliveries.map(\.redeliveryCount) == [0, 1, 2])
    }

    @Test(arguments: [SubscriptionType.exclusive, .failover])
    func deadLetterAppliesToEveryType(type: SubscriptionType) throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: type, sink: sink) {
            $0.maxRedeliverCount = 2
            $0.ackTimeout = .seconds(1)
        }
        let id = try harness.publish("poison")
        for _ in 0..<3 { harness.clock.advance(by: .seconds(1)) }

        #expect(sink.deliveries.map(\.redeliveryCount) == [0, 1, 2])
        let deadLetters = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "orders-sub-DLQ")
        let reader = RecordingSink()
        _ = try harness.engine.openReader(deadLetters, start: .earliest, receiverQueueSize: 10, sink: reader)
        #expect(reader.payloads == ["poison"])
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 0)
        consumer.acknowledge(id)
    }

    @Test func failoverTakeoverRaisesCount() throws {
        let harness = try Harness()
        let active = RecordingSink()
        let standby = RecordingSink()
        let activeConsumer = try harness.subscribe(type: .failover, sink: active)
        _ = try harness.subscribe(type: .failover, sink: standby)
        let ids = try harness.publish(count: 2)

        activeConsumer.close()

        #expect(standby.ids == ids)
        #expect(standby.deliveries.map(\.redeliveryCount) == [1, 1])
    }
}

@Suite struct DelayedDeliveryTests {
    @Test(arguments: SubscriptionType.allCases)
    func deliverAtHonouredForEveryType(type: SubscriptionType) throws {
        let harness = try Harness()
        let sink = RecordingSink()
        _ = try harness.subscribe(type: type, sink: sink)
        let later = try harness.publish("later", deliverAt: harness.clock.nowMilliseconds + 5_000)
        let now = try harness.publish("now")

        #expect(sink.ids == [now])
        harness.clock.advance(by: .milliseconds(4_999))
        #expect(sink.ids == [now])
        harness.clock.advance(by: .milliseconds(1))
        #expect(sink.ids == [now, later])
    }

    @Test func delayedMessageCountsInBacklogUntilAcked() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: .shared, sink: sink)
        try harness.publish("later", deliverAt: harness.clock.nowMilliseconds + 1_000)
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 1)

        harness.clock.advance(by: .seconds(1))
        consumer.acknowledge(try #require(sink.ids.first))

        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 0)
    }
}

@Suite struct FlowControlTests {
    @Test func negativeAckFreesSlotForNextMessage() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(type: .shared, sink: sink) {
            $0.receiverQueueSize = 1
            $0.negativeAckRedeliveryDelay = .seconds(1)
        }
        let ids = try harness.publish(count: 2)
        consumer.negativeAcknowledge(ids[0])
        #expect(sink.ids == [ids[0], ids[1]])

        harness.clock.advance(by: .seconds(1))
        #expect(sink.ids == [ids[0], ids[1]])
        consumer.acknowledge(ids[1])
        #expect(sink.ids == [ids[0], ids[1], ids[0]])
    }

    @Test func unknownAndForeignAcksChangeNothing() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.receiverQueueSize = 2 }
        let ids = try harness.publish(count: 4)
        consumer.acknowledge(MessageID(streamId: ids[0].streamId, sequence: 999))
        consumer.acknowledge(MessageID(streamId: ids[0].streamId + 1, sequence: 1))
        consumer.negativeAcknowledge(MessageID(streamId: ids[0].streamId, sequence: 3))

        #expect(sink.ids == Array(ids.prefix(2)))
        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 4)
    }

    @Test func batchAckAppliesUnsortedIdsAndSkipsForeign() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) { $0.receiverQueueSize = 5 }
        let ids = try harness.publish(count: 6)
        let foreign = MessageID(streamId: ids[0].streamId + 1, sequence: 6)
        consumer.acknowledge([ids[3], ids[0], foreign, ids[1], ids[0], ids[4]])

        #expect(try harness.engine.backlog(harness.address).subscriptionBacklogs["sub"] == 2)
        // Four acknowledged messages freed four slots of the window of five, so the sixth message went out.
        #expect(sink.ids == ids)
    }

    @Test func pullModeRedeliveryUsesPermit() throws {
        let harness = try Harness()
        let sink = RecordingSink()
        let consumer = try harness.subscribe(sink: sink) {
            $0.pullMode = true
            $0.ackTimeout = .seconds(1)
        }
        let ids = try harness.publish(count: 2)
        consumer.permit(1)
        harness.clock.advance(by: .seconds(1))
        #expect(sink.ids == [ids[0]])

        consumer.permit(1)
        #expect(sink.ids == [ids[0], ids[0]])
    }
}

@Suite struct ProducerEndTests {
    @Test func forcedDeleteEndsProducer() throws {
        let harness = try Harness()
        let producer = try harness.engine.openProducer(harness.address, name: nil, remoteAddress: "127.0.0.1:1", createIfMissing: true)
        let reasons = Mutex<[String]>([])
        producer.onEngineClose { reason in reasons.withLock { $0.append(reason) } }

        try harness.engine.deleteStream(harness.address, force: true)

        #expect(reasons.withLock { $0.count } == 1)
    }

    @Test func handlerRegisteredAfterDeletionRunsAtOnce() throws {
        let harness = try Harness()
        let producer = try harness.engine.openProducer(harness.address, name: nil, remoteAddress: "127.0.0.1:1", createIfMissing: true)
        try harness.engine.deleteStream(harness.address, force: true)
        let reasons = Mutex<[String]>([])

        producer.onEngineClose { reason in reasons.withLock { $0.append(reason) } }

        #expect(reasons.withLock { $0.count } == 1)
    }

    @Test func closedProducerHandlerNeverRuns() throws {
        let harness = try Harness()
        let producer = try harness.engine.openProducer(harness.address, name: nil, remoteAddress: "127.0.0.1:1", createIfMissing: true)
        let reasons = Mutex<[String]>([])
        producer.onEngineClose { reason in reasons.withLock { $0.append(reason) } }
        producer.close()

        try harness.engine.deleteStream(harness.address, force: true)
        producer.onEngineClose { reason in reasons.withLock { $0.append(reason) } }

        #expect(reasons.withLock { $0.isEmpty })
    }
}

/// A deterministic pseudo-random sequence (SplitMix64), so a failing run can be replayed.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var value = state
        value = (value ^ (value >> 30)) &* 0xbf58_476d_1ce4_e5b9
        value = (value ^ (value >> 27)) &* 0x94d0_49bb_1331_11eb
        return value ^ (value >> 31)
    }
}

@Suite struct KeySharedChurnTests {
    /// Returns the first message that is out with a consumer while an earlier unacknowledged message of its key
    /// is not out with that same consumer, or nil when per-key order holds.
    private func orderViolation(_ harness: Harness) throws -> String? {
        let core = try harness.engine.stream(harness.address)
        return core.state.withLock { state -> String? in
            guard let subscription = state.subscriptions["sub"] else { return nil }
            for (sequence, consumerId) in subscription.outstanding {
                let key = state.index.messages[sequence]?.key ?? ""
                for earlier in (subscription.markDelete + 1)..<sequence {
                    guard let entry = state.index.messages[earlier], (entry.key ?? "") == key,
                        !subscription.isConsumed(earlier)
                    else { continue }
                    if subscription.outstanding[earlier] != consumerId {
                        return "key \(key): \(sequence) is out with consumer \(consumerId) before \(earlier)"
                    }
                }
            }
            return nil
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func joinsAndLeavesKeepPerKeyOrder(seed: UInt64) throws {
        let harness = try Harness()
        var random = SeededGenerator(state: seed)
        var consumers: [(handle: any ConsumerHandle, sink: RecordingSink)] = []
        func join() throws {
            let sink = RecordingSink()
            let size = Int.random(in: 1...3, using: &random)
            consumers.append((try harness.subscribe(type: .keyShared, sink: sink) { $0.receiverQueueSize = size }, sink))
        }
        try join()
        var acknowledged: Set<MessageID> = []

        for _ in 0..<400 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                let key = "k\(Int.random(in: 0..<6, using: &random))"
                try harness.publish(key, key: key)
            case 4..<8:
                let candidates = consumers.flatMap { $0.sink.deliveries.map { ($0.message.id) } }.filter { !acknowledged.contains($0) }
                guard let id = candidates.randomElement(using: &random) else { continue }
                for consumer in consumers { consumer.handle.acknowledge(id) }
                acknowledged.insert(id)
            case 8:
                if consumers.count < 4 { try join() }
            default:
                guard consumers.count > 1 else { continue }
                let leaving = consumers.remove(at: Int.random(in: 0..<consumers.count, using: &random))
                leaving.handle.close()
            }
            let violation = try orderViolation(harness)
            #expect(violation == nil)
            if violation != nil { return }
        }
    }
}
