import RivuletCore

/// Settings of a consumer being attached, built by the engine from `ConsumerOptions`.
struct ConsumerRequest {
    var options: ConsumerOptions
    var name: String
    var remoteAddress: String
    var window: Int
    var outbox: SinkOutbox
    /// `BrokerConfiguration.maxDispatchBurstBytes`, with `Int.max` for none.
    var maxBurstBytes = Int.max
}

extension StreamState {
    /// Attaches a consumer, creating the subscription when needed; returns the consumer id and whether the
    /// subscription was created. Throws `consumerBusy` for a taken Exclusive subscription or a type mismatch.
    mutating func attachConsumer(
        _ request: ConsumerRequest, now: Int64, effects: inout StreamEffects
    ) throws(EngineError) -> (id: UInt64, created: Bool) {
        let options = request.options
        let name = options.subscription
        var created = false
        if let existing = subscriptions[name], !existing.consumers.isEmpty {
            guard existing.type == options.type else {
                throw .consumerBusy("subscription '\(name)' is \(existing.type.rawValue); connect with that type or use another subscription")
            }
            guard existing.type != .exclusive else {
                throw .consumerBusy("exclusive subscription '\(name)' already has a consumer")
            }
        } else if subscriptions[name] == nil {
            let markDelete = options.initialPosition == .latest ? index.lastVisible : (index.firstRetained() ?? index.lastVisible + 1) - 1
            subscriptions[name] = SubscriptionState(name: name, type: options.type, markDelete: markDelete)
            queueCursorChange(.created(subscription: name, markDelete: markDelete, type: options.type))
            created = true
        }
        let id = makeConnectionId()
        let consumer = ConsumerState(
            id: id, name: request.name, remoteAddress: request.remoteAddress, connectedSince: now,
            priorityLevel: options.priorityLevel, window: request.window, pullMode: options.pullMode,
            ackTimeoutMilliseconds: options.ackTimeout.map(\.wholeMilliseconds),
            negativeAckDelayMilliseconds: options.negativeAckRedeliveryDelay.wholeMilliseconds,
            outbox: request.outbox, maxBurstBytes: request.maxBurstBytes
        )
        subscriptions[name]?.type = options.type
        if let maxRedeliverCount = options.maxRedeliverCount {
            subscriptions[name]?.deadLetterPolicy = DeadLetterPolicy(maxRedeliverCount: maxRedeliverCount, topic: options.deadLetterTopic)
        }
        subscriptions[name]?.consumers.append(consumer)
        dispatch(subscription: name, now: now, effects: &effects)
        return (id, created)
    }

    /// Detaches a consumer; its unacknowledged messages go to the remaining or next consumer.
    mutating func detachConsumer(_ consumerId: UInt64, subscription name: String, now: Int64, effects: inout StreamEffects) {
        guard subscriptions[name]?.removeConsumer(consumerId, now: now) != nil else { return }
        dispatch(subscription: name, now: now, effects: &effects)
    }

    /// Applies an acknowledgement; ids of other streams and unknown or repeated ids change nothing.
    mutating func acknowledge(
        _ ranges: [ClosedRange<UInt64>], subscription name: String, now: Int64, effects: inout StreamEffects
    ) {
        // Mutate in place: a local copy put back into the dictionary stayed alive until the dispatch below,
        // which then copied each consumer's in-flight table on every acknowledgement.
        guard let applied = subscriptions[name]?.acknowledge(ranges, in: index), !applied.isEmpty else { return }
        queueCursorChange(.acknowledged(subscription: name, ranges: applied))
        removeConsumedByAll(applied)
        dispatch(subscription: name, now: now, effects: &effects)
    }

    mutating func negativelyAcknowledge(_ sequence: UInt64, subscription name: String, now: Int64, effects: inout StreamEffects) {
        guard let due = subscriptions[name]?.negativelyAcknowledge(sequence, now: now) else { return }
        requestWake(at: due)
        dispatch(subscription: name, now: now, effects: &effects)
    }

    mutating func permit(_ count: Int, consumerId: UInt64, subscription name: String, now: Int64, effects: inout StreamEffects) {
        guard count > 0, let index = subscriptions[name]?.consumers.firstIndex(where: { $0.id == consumerId }) else { return }
        let permits = subscriptions[name]!.consumers[index].permits
        subscriptions[name]!.consumers[index].permits = permits > Int.max - count ? Int.max : permits + count
        dispatch(subscription: name, now: now, effects: &effects)
    }

    /// Pauses or resumes deliveries to one consumer; resuming dispatches at once.
    mutating func setWritable(_ writable: Bool, consumerId: UInt64, subscription name: String, now: Int64, effects: inout StreamEffects) {
        guard let index = subscriptions[name]?.consumers.firstIndex(where: { $0.id == consumerId }),
            subscriptions[name]!.consumers[index].writable != writable
        else { return }
        subscriptions[name]!.consumers[index].writable = writable
        if writable { dispatch(subscription: name, now: now, effects: &effects) }
    }

    /// Pauses or resumes deliveries to one reader; resuming dispatches at once.
    mutating func setReaderWritable(_ writable: Bool, readerId: UInt64, now: Int64, effects: inout StreamEffects) {
        guard let reader = readers[readerId], reader.writable != writable else { return }
        readers[readerId]!.writable = writable
        if writable { dispatchReader(readerId, now: now, effects: &effects) }
    }

    /// Deletes a subscription with no consumers. Throws `subscriptionNotFound` or `subscriptionHasConsumers`.
    mutating func deleteSubscription(_ name: String, allowingConsumer consumerId: UInt64? = nil) throws(EngineError) {
        guard let subscription = subscriptions[name] else {
            throw .subscriptionNotFound("subscription '\(name)' not found")
        }
        let others = subscription.consumers.filter { $0.id != consumerId }
        guard others.isEmpty else {
            throw .subscriptionHasConsumers("subscription '\(name)' has \(others.count) connected consumer(s); close them first")
        }
        for consumer in subscription.consumers { consumer.outbox.detach() }
        subscriptions.removeValue(forKey: name)
        queueCursorChange(.deleted(subscription: name))
        if index.lastVisible > 0 { removeConsumedByAll([1...index.lastVisible]) }
    }

    /// Marks every visible message consumed for the subscription.
    mutating func clearBacklog(subscription name: String, now: Int64, effects: inout StreamEffects) {
        guard index.lastVisible > 0 else { return }
        acknowledge([1...index.lastVisible], subscription: name, now: now, effects: &effects)
    }

    mutating func queueCursorChange(_ change: CursorChange) {
        if case .acknowledged(let name, let ranges) = change,
            case .acknowledged(let lastName, let lastRanges)? = pendingCursorChanges.last, lastName == name
        {
            pendingCursorChanges[pendingCursorChanges.count - 1] = .acknowledged(subscription: name, ranges: lastRanges + ranges)
            return
        }
        pendingCursorChanges.append(change)
    }

    /// Drops from memory the messages in `ranges` that every subscription has now consumed.
    mutating func removeConsumedByAll(_ ranges: [ClosedRange<UInt64>]) {
        guard !subscriptions.isEmpty else { return }
        let floor = subscriptions.values.map(\.markDelete).min() ?? 0
        if let first = index.firstRetained(), first <= floor {
            for sequence in first...floor { index.remove(sequence) }
        }
        index.lowestRetained = max(index.lowestRetained, floor + 1)
        for range in ranges where range.upperBound > floor {
            let candidates = max(range.lowerBound, floor + 1)...range.upperBound
            // Walk whichever is shorter: the range or the retained messages.
            let sequences = candidates.count <= index.messages.count
                ? Array(candidates) : index.messages.keys.filter { candidates.contains($0) }
            for sequence in sequences
            where index.messages[sequence] != nil && subscriptions.values.allSatisfy({ $0.isConsumed(sequence) }) {
                index.remove(sequence)
            }
        }
    }

    /// Ends every consumer, reader and producer; their sinks get `engineClosed(reason:)`.
    mutating func closeAllClients(reason: String, effects: inout StreamEffects) {
        for name in Array(subscriptions.keys) {
            for consumer in subscriptions[name]!.consumers {
                consumer.outbox.enqueueClose(reason: reason)
                effects.drain(consumer.outbox)
            }
            subscriptions[name]!.consumers.removeAll()
        }
        for reader in readers.values {
            reader.outbox.enqueueClose(reason: reason)
            effects.drain(reader.outbox)
        }
        readers.removeAll()
        for producer in producers.values {
            guard let handler = producer.engineCloseHandler else { continue }
            effects.completions.append { handler(reason) }
        }
        producers.removeAll()
    }

    var hasClients: Bool {
        !producers.isEmpty || !readers.isEmpty || subscriptions.values.contains { !$0.consumers.isEmpty }
    }
}

extension StreamState {
    /// Puts back a message whose move to the dead letter stream failed, so it is delivered again.
    mutating func restoreDeadLetter(_ sequence: UInt64, subscription name: String, now: Int64, effects: inout StreamEffects) {
        guard let subscription = subscriptions[name], !subscription.isConsumed(sequence) else { return }
        subscriptions[name]?.pending.insert(sequence)
        dispatch(subscription: name, now: now, effects: &effects)
    }
}
