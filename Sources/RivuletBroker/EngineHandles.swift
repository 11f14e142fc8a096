import RivuletCore
import Synchronization

/// A producer attached to one stream of an `EmbeddedEngine`.
final class EngineProducer: ProducerHandle {
    let engine: EmbeddedEngine
    let core: StreamCore
    let id: UInt64
    let producerName: String
    private let closed = Atomic<Bool>(false)

    init(engine: EmbeddedEngine, core: StreamCore, id: UInt64, producerName: String) {
        self.engine = engine
        self.core = core
        self.id = id
        self.producerName = producerName
    }

    func publish(_ request: PublishRequest, completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void) {
        publish([request]) { results in completion(results[0]) }
    }

    func publish(_ requests: [PublishRequest], completion: @escaping @Sendable ([Result<MessageID, EngineError>]) -> Void) {
        guard !closed.load(ordering: .acquiring) else {
            completion(requests.map { _ in .failure(.unavailable("producer '\(producerName)' is closed")) })
            return
        }
        var requests = requests
        for index in requests.indices where requests[index].producerName == nil {
            requests[index].producerName = producerName
        }
        engine.publish(to: core, producerId: id, requests, completion: completion)
    }

    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        engine.update(core) { state, _, _ in state.producers.removeValue(forKey: id) }
    }

    func onEngineClose(_ handler: @escaping @Sendable (String) -> Void) {
        let (registered, effects) = engine.mutate(core) { state, _, _ -> Bool in
            guard state.producers[id] != nil else { return false }
            state.producers[id]?.engineCloseHandler = handler
            return true
        }
        engine.perform(effects)
        // Only a deletion removes the producer while this handle is open.
        if !registered, !closed.load(ordering: .acquiring) { handler("stream '\(core.address.topic)' was deleted") }
    }
}

/// A consumer attached to one subscription of an `EmbeddedEngine`.
final class EngineConsumer: ConsumerHandle {
    let engine: EmbeddedEngine
    let core: StreamCore
    let id: UInt64
    let subscription: String
    private let outbox: SinkOutbox
    private let closed = Atomic<Bool>(false)

    init(engine: EmbeddedEngine, core: StreamCore, id: UInt64, subscription: String, outbox: SinkOutbox) {
        self.engine = engine
        self.core = core
        self.id = id
        self.subscription = subscription
        self.outbox = outbox
    }

    func acknowledge(_ messageId: MessageID) {
        guard messageId.streamId == core.id else { return }
        let sequence = messageId.sequence
        engine.update(core) { state, now, effects in
            state.acknowledge([sequence...sequence], subscription: subscription, now: now, effects: &effects)
        }
    }

    /// Applies the batch in one engine update, so one dispatch and one cursor change cover all of it.
    func acknowledge(_ messageIds: [MessageID]) {
        var sequences: [UInt64] = []
        sequences.reserveCapacity(messageIds.count)
        for messageId in messageIds where messageId.streamId == core.id { sequences.append(messageId.sequence) }
        guard !sequences.isEmpty else { return }
        sequences.sort()
        // Consecutive sequences, the usual shape of a consumer's acks, collapse into one range.
        var ranges: [ClosedRange<UInt64>] = []
        var lower = sequences[0]
        var upper = lower
        for sequence in sequences.dropFirst() where sequence != upper {
            if sequence == upper + 1 {
                upper = sequence
            } else {
                ranges.append(lower...upper)
                lower = sequence
                upper = sequence
            }
        }
        ranges.append(lower...upper)
        engine.update(core) { state, now, effects in
            state.acknowledge(ranges, subscription: subscription, now: now, effects: &effects)
        }
    }

    func acknowledgeCumulative(_ messageId: MessageID) throws(EngineError) {
        let type = core.state.withLock { $0.subscriptions[subscription]?.type }
        guard type != .shared, type != .keyShared else {
            throw .notAllowed("cumulative acknowledgement is not allowed on \(type?.rawValue ?? "") subscription '\(subscription)'")
        }
        guard messageId.streamId == core.id, messageId.sequence > 0 else { return }
        let sequence = messageId.sequence
        engine.update(core) { state, now, effects in
            state.acknowledge([1...sequence], subscription: subscription, now: now, effects: &effects)
        }
    }

    func negativeAcknowledge(_ messageId: MessageID) {
        guard messageId.streamId == core.id else { return }
        engine.update(core) { state, now, effects in
            state.negativelyAcknowledge(messageId.sequence, subscription: subscription, now: now, effects: &effects)
        }
    }

    func permit(_ count: Int) {
        engine.update(core) { state, now, effects in
            state.permit(count, consumerId: id, subscription: subscription, now: now, effects: &effects)
        }
    }

    /// Deletes the subscription when this is its only consumer; throws `subscriptionHasConsumers` otherwise.
    func unsubscribe() throws(EngineError) {
        let (_, effects) = try engine.mutate(core) { state, _, _ throws(EngineError) in
            try state.deleteSubscription(subscription, allowingConsumer: id)
        }
        closed.store(true, ordering: .releasing)
        try engine.persistSubscriptionDeletion(core, subscription: subscription, effects: effects)
    }

    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        outbox.detach()
        engine.update(core) { state, now, effects in
            state.detachConsumer(id, subscription: subscription, now: now, effects: &effects)
        }
    }

    func setWritable(_ writable: Bool) {
        engine.update(core) { state, now, effects in
            state.setWritable(writable, consumerId: id, subscription: subscription, now: now, effects: &effects)
        }
    }
}

/// A reader of one stream of an `EmbeddedEngine`.
final class EngineReader: ReaderHandle {
    let engine: EmbeddedEngine
    let core: StreamCore
    let id: UInt64
    private let outbox: SinkOutbox

    init(engine: EmbeddedEngine, core: StreamCore, id: UInt64, outbox: SinkOutbox) {
        self.engine = engine
        self.core = core
        self.id = id
        self.outbox = outbox
    }

    func acknowledge(_ messageId: MessageID) {
        engine.update(core) { state, now, effects in
            guard let count = state.readers[id]?.inFlightCount, count > 0 else { return }
            state.readers[id]?.inFlightCount = count - 1
            state.dispatchReader(id, now: now, effects: &effects)
        }
    }

    func close() {
        outbox.detach()
        engine.update(core) { state, _, _ in state.readers.removeValue(forKey: id) }
    }

    func setWritable(_ writable: Bool) {
        engine.update(core) { state, now, effects in
            state.setReaderWritable(writable, readerId: id, now: now, effects: &effects)
        }
    }
}
