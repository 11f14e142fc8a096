import RivuletCore

extension EmbeddedEngine {
    /// Publishes a copy of the message to the dead letter stream (created on demand), then acknowledges the
    /// original on its subscription. When that fails, the message goes back to the subscription.
    /// NOTE: creating the stream waits for its catalog record, so this must not run on the log's completion thread.
    /// Dead letters arise only in timer callbacks and consumer closes today.
    func forwardToDeadLetterStream(_ letter: DeadLetter) {
        guard let message = letter.message else {
            // The body was evicted: read it on the reader queue, off the caller's (possibly network) thread.
            readsInFlight.add(1, ordering: .relaxed)
            readerQueue.async { [self] in
                defer { readsInFlight.subtract(1, ordering: .relaxed) }
                var resolved = letter
                resolved.message = readMessage(streamId: letter.id.streamId, sequence: letter.id.sequence, at: letter.position)?.message
                guard resolved.message != nil else {
                    // readMessage logged why; the message stays unacknowledged rather than looping on the read.
                    logger.warning("dead letter not forwarded", ["streamId": "\(letter.id.streamId)", "sequence": "\(letter.id.sequence)"])
                    return
                }
                forwardToDeadLetterStream(resolved)
            }
            return
        }
        let id = letter.id
        guard let source = catalog.withLock({ $0.streamsById[id.streamId] }) else { return }
        let sequence = id.sequence
        let subscription = letter.subscription
        guard let target = deadLetterAddress(of: source.address, subscription: subscription, topic: letter.policy.topic),
            target != source.address
        else {
            logger.warning("dead letter stream name is invalid", ["stream": source.address.description, "subscription": subscription])
            update(source) { state, now, effects in state.restoreDeadLetter(sequence, subscription: subscription, now: now, effects: &effects) }
            return
        }
        let request = PublishRequest(
            payload: message.payload, key: message.key, properties: message.properties,
            eventTime: message.eventTime, producerName: message.producerName
        )
        let completion: @Sendable (Result<MessageID, EngineError>) -> Void = { [weak self] result in
            guard let self else { return }
            switch result {
            case .success:
                self.update(source) { state, now, effects in
                    state.acknowledge([sequence...sequence], subscription: subscription, now: now, effects: &effects)
                }
            case .failure(let error):
                self.logger.warning("dead letter not stored", ["stream": target.description, "error": error.message])
                self.update(source) { state, now, effects in
                    state.restoreDeadLetter(sequence, subscription: subscription, now: now, effects: &effects)
                }
            }
        }
        do {
            let core = try streamCreatingIfMissing(target, create: true)
            publish(to: core, producerId: nil, request, completion: completion)
        } catch {
            completion(.failure(error))
        }
    }

    /// Builds the dead letter stream's address from `topic`: a prefixed topic, a `persistent://` name or a bare
    /// name in the source's scope, by default `<stream>-<subscription>-DLQ`. Returns nil for an invalid stream name.
    func deadLetterAddress(of source: StreamAddress, subscription: String, topic: String?) -> StreamAddress? {
        var address = source
        if var topic {
            if topic.hasPrefix("persistent://"), let last = topic.split(separator: "/").last { topic = String(last) }
            if let (scope, name) = StreamAddress.splitTopic(topic) {
                address.scope = scope
                address.name = name
            } else {
                address.name = topic
            }
        } else {
            address.name = "\(source.name)-\(subscription)-DLQ"
        }
        return NameRules.streamNameProblem(address.name) == nil ? address : nil
    }
}
