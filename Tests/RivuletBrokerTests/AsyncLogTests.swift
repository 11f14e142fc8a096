import Dispatch
import RivuletCore
import RivuletStorage
import Synchronization
import Testing
@testable import RivuletBroker

/// Tests that block their thread on completions from other threads. They run one at a time, because on a
/// two-core machine parallel blocked tests starve the dispatch thread pool and stall for about a second.
@Suite(.serialized) enum ThreadedTests {}

extension ThreadedTests {
@Suite struct AsyncLogTests {
    private let address = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "orders")

    private func makeEngine(_ log: any RecordLog, clock: ManualClock = ManualClock()) throws -> EmbeddedEngine {
        try EmbeddedEngine(log: log, configuration: BrokerConfiguration(), logger: Logger(label: "broker", sink: MemorySink()), clock: clock)
    }

    @Test func publishCompletesOnWriterThread() throws {
        let log = AsyncLog()
        let engine = try makeEngine(log)
        try engine.createStream(address)
        let sink = RecordingSink()
        let consumer = try engine.subscribe(address, options: ConsumerOptions(subscription: "s"), remoteAddress: "a", createIfMissing: false, sink: sink)
        let ids = try (0..<5).map { index in
            try wait { engine.publish(address, PublishRequest(payload: [UInt8(index)]), completion: $0) }
        }
        log.waitForWriter()
        #expect(sink.ids == ids)
        consumer.acknowledge(ids[0])
        log.waitForWriter()
        let restarted = try makeEngine(log)
        let after = RecordingSink()
        _ = try restarted.subscribe(address, options: ConsumerOptions(subscription: "s"), remoteAddress: "a", createIfMissing: false, sink: after)
        restarted.waitForReads()
        #expect(after.ids == Array(ids.dropFirst()))
    }

    @Test func failedAppendReportsErrorAndKeepsOrder() throws {
        let log = AsyncLog()
        let engine = try makeEngine(log)
        try engine.createStream(address)
        let sink = RecordingSink()
        _ = try engine.subscribe(address, options: ConsumerOptions(subscription: "s"), remoteAddress: "a", createIfMissing: false, sink: sink)
        let first = try wait { engine.publish(address, PublishRequest(payload: [1]), completion: $0) }
        log.setFailing(true)
        #expect(throws: EngineError.self) { try wait { engine.publish(address, PublishRequest(payload: [2]), completion: $0) } }
        #expect(throws: EngineError.self) { try engine.createStream(StreamAddress(tenant: "acme", fabric: "_system", scope: .local, name: "x")) }
        #expect(throws: EngineError.self) {
            try engine.subscribe(address, options: ConsumerOptions(subscription: "lost"), remoteAddress: "a", createIfMissing: false, sink: RecordingSink())
        }
        #expect(try engine.subscriptions(address) == ["s"])
        log.setFailing(false)
        let third = try wait { engine.publish(address, PublishRequest(payload: [3]), completion: $0) }
        log.waitForWriter()
        #expect(sink.ids == [first, third])
        #expect(try engine.backlog(address).subscriptionBacklogs["s"] == 2)
        let restarted = try makeEngine(log)
        #expect(try wait { restarted.publish(address, PublishRequest(payload: [4]), completion: $0) }.sequence == 4)
    }

    /// Waits at most 5 seconds for a batch publish's results.
    private func publishBatch(_ producer: any ProducerHandle, _ payloads: [[UInt8]]) throws -> [Result<MessageID, EngineError>] {
        try wait { completion in
            producer.publish(payloads.map { PublishRequest(payload: $0) }) { results in completion(.success(results)) }
        }
    }

    @Test func batchIsStoredInOrderAndDeliveredTogether() throws {
        let log = AsyncLog()
        let engine = try EmbeddedEngine(
            log: log, configuration: BrokerConfiguration(maxPayloadBytes: 4), logger: Logger(label: "broker", sink: MemorySink()),
            clock: ManualClock())
        try engine.createStream(address)
        let sink = RecordingSink()
        _ = try engine.subscribe(address, options: ConsumerOptions(subscription: "s"), remoteAddress: "a", createIfMissing: false, sink: sink)
        let producer = try engine.openProducer(address, name: "p", remoteAddress: "a", createIfMissing: false)
        let results = try publishBatch(producer, [[1], [2, 2, 2, 2, 2], [3]])
        log.waitForWriter()
        let ids = results.compactMap { try? $0.get() }
        #expect(ids.map(\.sequence) == [1, 2])
        guard case .failure(.payloadTooLarge) = results[1] else {
            Issue.record("the oversized payload was not refused: \(results[1])")
            return
        }
        #expect(sink.ids == ids)
        #expect(sink.deliveries.map(\.message.payload) == [[1], [3]])
        #expect(sink.deliveries.allSatisfy { $0.message.producerName == "p" })

        log.setFailing(true)
        let failed = try publishBatch(producer, [[4], [5]])
        #expect(failed.allSatisfy { if case .failure(.storageFailure) = $0 { true } else { false } })
        log.setFailing(false)
        // The failed batch's sequences are skipped, not waited for: later publishes become visible.
        let later = try publishBatch(producer, [[6]])
        log.waitForWriter()
        #expect(try later[0].get().sequence == 5)
        #expect(sink.deliveries.map(\.message.payload) == [[1], [3], [6]])
        let restarted = try makeEngine(log)
        let after = RecordingSink()
        _ = try restarted.subscribe(address, options: ConsumerOptions(subscription: "s"), remoteAddress: "a", createIfMissing: false, sink: after)
        restarted.waitForReads()
        #expect(after.deliveries.map(\.message.payload) == [[1], [3], [6]])
    }

    @Test func concurrentPublishersAndAckersStayConsistent() throws {
        let log = AsyncLog()
        let engine = try makeEngine(log)
        try engine.createStream(address)
        let handles = Mutex<[any ConsumerHandle]>([])
        let sinks = (0..<3).map { _ in
            RecordingSink(onDeliver: { delivery in
                handles.withLock { $0 }.first?.acknowledge(delivery.message.id)
            })
        }
        for sink in sinks {
            var options = ConsumerOptions(subscription: "work")
            options.type = .shared
            options.receiverQueueSize = 5
            let handle = try engine.subscribe(address, options: options, remoteAddress: "a", createIfMissing: false, sink: sink)
            handles.withLock { $0.append(handle) }
        }
        let producers = 4
        let perProducer = 50
        let done = DispatchSemaphore(value: 0)
        let failures = Atomic<Int>(0)
        for producer in 0..<producers {
            DispatchQueue.global().async {
                for index in 0..<perProducer {
                    do {
                        _ = try wait { engine.publish(address, PublishRequest(payload: [UInt8(producer), UInt8(index)]), completion: $0) }
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                }
                done.signal()
            }
        }
        for _ in 0..<producers { #expect(done.wait(timeout: .now() + .seconds(20)) == .success) }
        log.waitForWriter()
        #expect(failures.load(ordering: .relaxed) == 0)
        let delivered = sinks.flatMap(\.ids)
        #expect(Set(delivered).count == producers * perProducer)
        #expect(try engine.backlog(address).subscriptionBacklogs["work"] == 0)
    }
}

@Suite struct ChurnTests {
    @Test func consumerChurnLosesNothing() throws {
        let log = AsyncLog()
        let engine = try EmbeddedEngine(log: log, configuration: BrokerConfiguration(), logger: Logger(label: "b", sink: MemorySink()), clock: ManualClock())
        let address = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "orders")
        try engine.createStream(address)
        var options = ConsumerOptions(subscription: "work")
        options.type = .shared
        options.receiverQueueSize = 3
        let handles = Mutex<[any ConsumerHandle]>([])
        for _ in 0..<2 {
            let sink = RecordingSink(onDeliver: { delivery in handles.withLock { $0 }.first?.acknowledge(delivery.message.id) })
            let handle = try engine.subscribe(address, options: options, remoteAddress: "a", createIfMissing: false, sink: sink)
            handles.withLock { $0.append(handle) }
        }
        let done = DispatchSemaphore(value: 0)
        let churnOptions = options
        DispatchQueue.global().async {
            for _ in 0..<30 {
                let idle = try? engine.subscribe(address, options: churnOptions, remoteAddress: "b", createIfMissing: false, sink: RecordingSink())
                idle?.close()
            }
            done.signal()
        }
        for producer in 0..<2 {
            DispatchQueue.global().async {
                for index in 0..<100 {
                    _ = try? wait { engine.publish(address, PublishRequest(payload: [UInt8(producer), UInt8(index)]), completion: $0) }
                }
                done.signal()
            }
        }
        for _ in 0..<3 { #expect(done.wait(timeout: .now() + .seconds(20)) == .success) }
        log.waitForWriter()
        log.waitForWriter()
        #expect(try engine.stats(address).msgInCounter == 200)
        #expect(try engine.backlog(address).subscriptionBacklogs["work"] == 0)
    }
}

@Suite struct CursorBatchingTests {
    @Test func acknowledgementsShareCursorRecords() throws {
        let log = AsyncLog()
        let engine = try EmbeddedEngine(log: log, configuration: BrokerConfiguration(), logger: Logger(label: "b", sink: MemorySink()), clock: ManualClock())
        let address = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "orders")
        try engine.createStream(address)
        let sink = RecordingSink()
        let consumer = try engine.subscribe(address, options: ConsumerOptions(subscription: "s"), remoteAddress: "a", createIfMissing: false, sink: sink)
        let ids = try (0..<50).map { index in
            try wait { engine.publish(address, PublishRequest(payload: [UInt8(index)]), completion: $0) }
        }
        log.waitForWriter()
        let before = cursorRecordCount(log.base)
        log.pause()
        for id in ids { consumer.acknowledge(id) }
        log.resume()
        log.waitForWriter()
        log.waitForWriter()
        // The first ack's record was in flight while the other 49 arrived, so they share the second record.
        #expect(cursorRecordCount(log.base) - before == 2)

        let restarted = try EmbeddedEngine(log: log, configuration: BrokerConfiguration(), logger: Logger(label: "b", sink: MemorySink()), clock: ManualClock())
        #expect(try restarted.backlog(address).subscriptionBacklogs["s"] == 0)
    }

    private func cursorRecordCount(_ log: MemoryLog) -> Int {
        var count = 0
        try? log.replay(from: .zero) { _, record in if record.type == .cursor { count += 1 } }
        return count
    }
}
}
