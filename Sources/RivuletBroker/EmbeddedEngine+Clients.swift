import RivuletCore
import RivuletStorage

extension EmbeddedEngine {
    // MARK: Publishing

    public func publish(
        _ address: StreamAddress, _ request: PublishRequest,
        completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void
    ) {
        do {
            let core = try stream(address)
            publish(to: core, producerId: nil, request, completion: completion)
        } catch {
            completion(.failure(error))
        }
    }

    /// Assigns the sequence and appends the message; the completion, visibility and dispatch follow the append.
    func publish(
        to core: StreamCore, producerId: UInt64?, _ request: PublishRequest,
        completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void
    ) {
        publish(to: core, producerId: producerId, [request]) { results in completion(results[0]) }
    }

    /// Assigns consecutive sequences to the requests within the payload limit and appends them as one log
    /// append, so the batch costs one lock round, one completion and one dispatch. `completion` gets one result
    /// per request, in order. The append succeeds or fails as a whole.
    func publish(
        to core: StreamCore, producerId: UInt64?, _ requests: [PublishRequest],
        completion: @escaping @Sendable ([Result<MessageID, EngineError>]) -> Void
    ) {
        var results = [Result<MessageID, EngineError>](repeating: .failure(.unavailable("not published")), count: requests.count)
        let limit = configuration.maxPayloadBytes
        var accepted: [Int] = []
        accepted.reserveCapacity(requests.count)
        for (index, request) in requests.enumerated() {
            if request.payload.count <= limit {
                accepted.append(index)
            } else {
                results[index] = .failure(.payloadTooLarge("payload of \(request.payload.count) bytes exceeds the limit of \(limit) bytes"))
            }
        }
        guard !accepted.isEmpty else {
            completion(results)
            return
        }
        let outcome = appendGate.withLock { [results, accepted] _ -> Result<StreamEffects, EngineError> in
            let now = clock.nowMilliseconds
            guard !catalog.withLock({ $0.closed }) else { return .failure(.unavailable("the engine is shut down")) }
            guard let first = core.state.withLock({ $0.assignSequences(accepted.count) }) else {
                return .failure(.streamNotFound("stream '\(core.address.topic)' not found"))
            }
            var messages: [StoredMessage] = []
            var records: [LogRecord] = []
            messages.reserveCapacity(accepted.count)
            records.reserveCapacity(accepted.count)
            for (offset, index) in accepted.enumerated() {
                let request = requests[index]
                let sequence = first + UInt64(offset)
                let message = StoredMessage(
                    id: MessageID(streamId: core.id, sequence: sequence), publishTime: now, eventTime: request.eventTime,
                    deliverAt: request.deliverAt, key: request.key, properties: request.properties, payload: request.payload,
                    producerName: request.producerName
                )
                messages.append(message)
                records.append(LogRecord(type: .message, streamId: core.id, sequence: sequence, timestamp: now, body: encodeMessageBody(message)))
            }
            let bodySizes = records.map(\.body.count)
            return .success(appendLocked(records) { [self, messages, accepted] result in
                var answers = results
                var retained: [RetainedMessage]?
                switch result {
                case .success(let positions):
                    retained = zip(messages, zip(positions, bodySizes)).map { message, placed in
                        RetainedMessage(message: message, position: placed.0, sizeBytes: placed.1)
                    }
                    for (message, index) in zip(messages, accepted) { answers[index] = .success(message.id) }
                case .failure(let error):
                    for index in accepted { answers[index] = .failure(.storageFailure("message was not stored: \(error)")) }
                }
                var (_, effects) = mutate(core) { state, now, effects in
                    state.completePublish(
                        firstSequence: first, count: messages.count, retained: retained, producerId: producerId, now: now,
                        effects: &effects)
                }
                // The producer hears of its messages before any consumer gets them.
                let finished = answers
                effects.completions.insert({ completion(finished) }, at: 0)
                return effects
            })
        }
        switch outcome {
        case .success(let deferred): perform(deferred)
        case .failure(let error):
            for index in accepted { results[index] = .failure(error) }
            completion(results)
        }
    }

    public func openProducer(
        _ address: StreamAddress, name: String?, remoteAddress: String, createIfMissing: Bool
    ) throws(EngineError) -> any ProducerHandle {
        let core = try streamCreatingIfMissing(address, create: createIfMissing)
        let prefix = configuration.generatedProducerNamePrefix
        let (producer, _) = try mutate(core) { state, now, _ throws(EngineError) -> ProducerState in
            guard !state.deleted else { throw EngineError.streamNotFound("stream '\(address.topic)' not found") }
            let id = state.makeConnectionId()
            var producerName = name ?? "\(prefix)-\(core.id)-\(id)"
            while name == nil, state.producers.values.contains(where: { $0.name == producerName }) {
                producerName += "-\(state.makeConnectionId())"
            }
            guard !state.producers.values.contains(where: { $0.name == producerName }) else {
                throw EngineError.producerBusy("producer '\(producerName)' is already connected to stream '\(address.topic)'")
            }
            let producer = ProducerState(id: id, name: producerName, remoteAddress: remoteAddress, connectedSince: now)
            state.producers[id] = producer
            return producer
        }
        return EngineProducer(engine: self, core: core, id: producer.id, producerName: producer.name)
    }

    // MARK: Consumers and readers

    public func subscribe(
        _ address: StreamAddress, options: ConsumerOptions, remoteAddress: String, createIfMissing: Bool,
        sink: any DeliverySink
    ) throws(EngineError) -> any ConsumerHandle {
        if let problem = NameRules.subscriptionNameProblem(options.subscription) { throw .invalidArgument(problem) }
        if let timeout = options.ackTimeout, timeout < .seconds(1), timeout != .zero {
            throw .invalidArgument("ackTimeout \(timeout) is invalid: use 0 (off) or at least 1 second")
        }
        if let count = options.maxRedeliverCount, count <= 0 {
            throw .invalidArgument("maxRedeliverCount \(count) is invalid: use 1 or more")
        }
        if options.deadLetterTopic != nil, options.maxRedeliverCount == nil {
            throw .invalidArgument("deadLetterTopic needs maxRedeliverCount: set both")
        }
        var options = options
        if options.ackTimeout == .zero { options.ackTimeout = nil }

        let core = try streamCreatingIfMissing(address, create: createIfMissing)
        let outbox = SinkOutbox(sink: sink)
        let request = ConsumerRequest(
            options: options, name: options.consumerName ?? "consumer-\(core.id)-\(options.subscription)",
            remoteAddress: remoteAddress, window: configuration.effectiveWindow(options.receiverQueueSize), outbox: outbox,
            maxBurstBytes: configuration.maxDispatchBurstBytes ?? .max
        )
        let (attached, effects) = try mutate(core) { state, now, effects throws(EngineError) in
            guard !state.deleted else { throw EngineError.streamNotFound("stream '\(address.topic)' not found") }
            let limit = configuration.maxSubscriptionsPerStream
            if state.subscriptions[options.subscription] == nil, state.subscriptions.count >= limit {
                throw EngineError.notAllowed(
                    "stream '\(address.topic)' already has the maximum of \(limit) subscriptions: delete one first")
            }
            return try state.attachConsumer(request, now: now, effects: &effects)
        }

        let handle = EngineConsumer(engine: self, core: core, id: attached.id, subscription: options.subscription, outbox: outbox)
        if attached.created {
            if case .failure(let error)? = flushCursorChanges(core, force: true)?.wait().0 {
                handle.close()
                let subscription = options.subscription
                update(core) { state, _, _ in
                    if state.subscriptions[subscription]?.consumers.isEmpty == true { state.subscriptions.removeValue(forKey: subscription) }
                }
                throw .storageFailure("subscription '\(options.subscription)' was not created: \(error)")
            }
            logger.info("subscription created", [
                "stream": address.description, "subscription": options.subscription, "type": options.type.rawValue,
            ])
        }
        perform(effects)
        return handle
    }

    public func openReader(
        _ address: StreamAddress, start: ReaderStart, receiverQueueSize: Int, sink: any DeliverySink
    ) throws(EngineError) -> any ReaderHandle {
        let core = try stream(address)
        if case .after(let id) = start, id.streamId != core.id {
            throw .invalidArgument("message id \(id.encoded) does not belong to stream '\(address.topic)'")
        }
        let outbox = SinkOutbox(sink: sink)
        let window = configuration.effectiveWindow(receiverQueueSize)
        let (id, effects) = try mutate(core) { state, now, effects throws(EngineError) -> UInt64 in
            guard !state.deleted else { throw EngineError.streamNotFound("stream '\(address.topic)' not found") }
            let first = state.index.firstRetained() ?? state.index.lastVisible + 1
            let next: UInt64
            switch start {
            case .earliest: next = first
            case .latest: next = state.index.lastVisible + 1
            case .after(let id): next = max(id.sequence + 1, first)
            }
            let id = state.makeConnectionId()
            state.readers[id] = ReaderState(
                id: id, nextSequence: next, window: window, outbox: outbox,
                maxBurstBytes: configuration.maxDispatchBurstBytes ?? .max)
            state.dispatchReader(id, now: now, effects: &effects)
            return id
        }
        perform(effects)
        return EngineReader(engine: self, core: core, id: id, outbox: outbox)
    }

    // MARK: Figures

    public func stats(_ address: StreamAddress) throws(EngineError) -> StreamStats {
        let core = try stream(address)
        let now = clock.nowMilliseconds
        return core.state.withLock { $0.stats(now: now) }
    }

    public func backlog(_ address: StreamAddress) throws(EngineError) -> StreamBacklog {
        try stream(address).state.withLock { $0.backlog() }
    }

    public func subscriptions(_ address: StreamAddress) throws(EngineError) -> [String] {
        try stream(address).state.withLock { $0.subscriptions.keys.sorted() }
    }

    // MARK: Subscription administration

    public func deleteSubscription(_ address: StreamAddress, subscription: String) throws(EngineError) {
        let core = try stream(address)
        let (_, effects) = try mutate(core) { state, _, _ throws(EngineError) in
            try state.deleteSubscription(subscription)
        }
        try persistSubscriptionDeletion(core, subscription: subscription, effects: effects)
    }

    /// Persists a deletion queued by `StreamState.deleteSubscription` and logs it.
    func persistSubscriptionDeletion(_ core: StreamCore, subscription: String, effects: StreamEffects) throws(EngineError) {
        if case .failure(let error)? = flushCursorChanges(core, force: true)?.wait().0 {
            throw .storageFailure("deletion of subscription '\(subscription)' was not persisted: \(error)")
        }
        perform(effects)
        logger.info("subscription deleted", ["stream": core.address.description, "subscription": subscription])
    }

    public func unsubscribeEverywhere(tenant: String, fabric: String, scope: StreamScope?, subscription: String) throws(EngineError) {
        let cores = try streams(tenant: tenant, fabric: fabric, scope: scope)
        for core in cores {
            let busy = core.state.withLock { $0.subscriptions[subscription].map { !$0.consumers.isEmpty } ?? false }
            if busy {
                throw .subscriptionHasConsumers("subscription '\(subscription)' has connected consumers on stream '\(core.address.topic)'")
            }
        }
        for core in cores {
            do {
                let (_, effects) = try mutate(core) { state, _, _ throws(EngineError) in
                    try state.deleteSubscription(subscription)
                }
                try persistSubscriptionDeletion(core, subscription: subscription, effects: effects)
            } catch .subscriptionNotFound {
                continue
            }
        }
    }

    public func clearBacklog(tenant: String, fabric: String, scope: StreamScope?, subscription: String?) throws(EngineError) {
        for core in try streams(tenant: tenant, fabric: fabric, scope: scope) {
            update(core) { state, now, effects in
                for name in state.subscriptions.keys where subscription == nil || name == subscription {
                    state.clearBacklog(subscription: name, now: now, effects: &effects)
                }
            }
        }
    }

    public func expireMessages(_ address: StreamAddress, olderThanSeconds seconds: Int) throws(EngineError) {
        guard seconds >= 0 else { throw .invalidArgument("expiry of \(seconds) seconds is invalid: use 0 or more") }
        let core = try stream(address)
        update(core) { state, now, effects in
            state.expire(publishedAtOrBefore: now - Int64(seconds) * 1000, dropUnsubscribed: false, now: now, effects: &effects)
        }
    }

    private func streams(tenant: String, fabric: String, scope: StreamScope?) throws(EngineError) -> [StreamCore] {
        try catalog.withLock { catalog throws(EngineError) -> [StreamCore] in
            guard !catalog.closed else { throw EngineError.unavailable("the engine is shut down") }
            return catalog.streams(tenant: tenant, fabric: fabric, scope: scope)
        }
    }
}
