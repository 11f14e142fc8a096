import RivuletCore
import RivuletStorage
import Synchronization

extension EmbeddedEngine {
    /// Appends `records`; call with the append gate held. `apply` runs in the completion, updates the state
    /// before the append counts as finished, and returns effects. Returns the effects of a completion that ran
    /// inside `append`, for the caller to perform after leaving the gate.
    func appendLocked(
        _ records: [LogRecord], apply: @escaping @Sendable (Result<[LogPosition], StorageError>) -> StreamEffects
    ) -> StreamEffects {
        let ticket = inFlight.begin()
        let call = AppendCall()
        log.append(records) { [self] result in
            let effects = apply(result)
            inFlight.end(ticket)
            if let effects = call.deferIfInCall(effects) {
                perform(effects)
            }
            checkpointIfDue()
        }
        return call.finish()
    }

    /// Runs `body` on the stream's state under its lock, arms the stream timer if needed and notes queued
    /// cursor changes. Perform the returned effects after the call.
    func mutate<Value: Sendable, Failure: Error>(
        _ core: StreamCore, _ body: (inout StreamState, Int64, inout StreamEffects) throws(Failure) -> Value
    ) throws(Failure) -> (Value, StreamEffects) {
        let now = clock.nowMilliseconds
        return try core.state.withLock { state throws(Failure) -> (Value, StreamEffects) in
            var effects = StreamEffects()
            let value = try body(&state, now, &effects)
            state.armTimer(clock: clock) { [weak self, weak core] in
                guard let self, let core else { return }
                self.streamTimerFired(core)
            }
            if !state.pendingCursorChanges.isEmpty { effects.cursorStreams.append(core) }
            if !effects.missing.isEmpty {
                if !state.fetchInFlight, !state.deleted {
                    let plan = state.index.fetchPlan(from: effects.missing)
                    if !plan.isEmpty {
                        state.fetchInFlight = true
                        effects.fetches.append(MessageFetch(core: core, entries: plan))
                    }
                }
                effects.missing.removeAll()
            }
            // Evict after dispatch, so bodies just cached or read back are handed out before they can go.
            if state.index.enforceCacheBudget(keepingBytes: cacheBudget.streamShareBytes) { effects.trimCaches = true }
            return (value, effects)
        }
    }

    /// Runs `mutate` with a body that cannot fail and performs the effects at once.
    func update(_ core: StreamCore, _ body: (inout StreamState, Int64, inout StreamEffects) -> Void) {
        let (_, effects) = mutate(core) { state, now, effects in body(&state, now, &effects) }
        perform(effects)
    }

    /// Performs effects; call with no engine lock held.
    func perform(_ effects: StreamEffects) {
        for completion in effects.completions { completion() }
        for outbox in effects.outboxes { outbox.drain() }
        for letter in effects.deadLetters { forwardToDeadLetterStream(letter) }
        for fetch in effects.fetches { read(fetch) }
        if effects.trimCaches { trimCaches() }
        var flushed: [StreamCore] = []
        for core in effects.cursorStreams where !flushed.contains(where: { $0 === core }) {
            flushed.append(core)
            _ = flushCursorChanges(core)
        }
    }

    /// Appends the stream's queued cursor changes as one record. Unless `force` is set, it waits while another
    /// cursor record of the stream is in flight, whose completion flushes again, so acknowledgements batch up.
    /// Returns a waiter for the append, or nil when nothing was appended now.
    func flushCursorChanges(_ core: StreamCore, force: Bool = false) -> AppendWaiter? {
        let now = clock.nowMilliseconds
        let (deferred, waiter) = appendGate.withLock { _ -> (StreamEffects, AppendWaiter?) in
            let changes = core.state.withLock { state -> [CursorChange] in
                guard !state.deleted else {
                    state.pendingCursorChanges.removeAll()
                    return []
                }
                guard force || state.cursorAppendsInFlight == 0, !state.pendingCursorChanges.isEmpty else { return [] }
                state.cursorAppendsInFlight += 1
                defer { state.pendingCursorChanges.removeAll() }
                return state.pendingCursorChanges
            }
            guard !changes.isEmpty else { return (StreamEffects(), nil) }
            let waiter = AppendWaiter()
            let record = CursorRecord.record(streamId: core.id, changes: changes, timestamp: now)
            let effects = appendLocked([record]) { [logger] result in
                if case .failure(let error) = result {
                    logger.warning("cursor changes not persisted", ["stream": core.address.description, "error": "\(error)"])
                }
                let effects = core.state.withLock { state -> StreamEffects in
                    state.cursorAppendsInFlight -= 1
                    var effects = StreamEffects()
                    if state.cursorAppendsInFlight == 0, !state.pendingCursorChanges.isEmpty { effects.cursorStreams.append(core) }
                    return effects
                }
                waiter.finish(result)
                return effects
            }
            return (effects, waiter)
        }
        perform(deferred)
        return waiter
    }

    // MARK: Message cache

    /// Reads the fetch's bodies on the reader queue, caches them and dispatches the stream again.
    func read(_ fetch: MessageFetch) {
        readsInFlight.add(1, ordering: .relaxed)
        readerQueue.async { [self] in
            var fetched: [RetainedMessage] = []
            var lost: [UInt64] = []
            for (sequence, position) in fetch.entries {
                if let retained = readMessage(streamId: fetch.core.id, sequence: sequence, at: position) {
                    fetched.append(retained)
                } else {
                    lost.append(sequence)
                }
            }
            update(fetch.core) { state, now, effects in
                state.cacheFetched(fetched, lost: lost)
                state.dispatchAll(now: now, effects: &effects)
            }
            readsInFlight.subtract(1, ordering: .relaxed)
        }
    }

    /// Reads one retained message from the log; nil (with a warning) when it is missing or corrupt.
    func readMessage(streamId: UInt64, sequence: UInt64, at position: LogPosition) -> RetainedMessage? {
        do {
            let record = try log.read(at: position)
            guard record.type == .message, record.streamId == streamId, record.sequence == sequence,
                let message = decodeMessageBody(record.body, id: MessageID(streamId: streamId, sequence: sequence), publishTime: record.timestamp)
            else {
                logger.warning("retained message unreadable", ["streamId": "\(streamId)", "sequence": "\(sequence)", "position": "\(position)"])
                return nil
            }
            return RetainedMessage(message: message, position: position, sizeBytes: record.body.count)
        } catch {
            logger.warning("retained message unreadable", ["streamId": "\(streamId)", "position": "\(position)", "error": "\(error)"])
            return nil
        }
    }

    /// Queues one pass that evicts the oldest bodies of the largest caches until the cache is back under its
    /// trim target. It runs when the stream that exceeded the budget is down to its share.
    func trimCaches() {
        guard !trimQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        readsInFlight.add(1, ordering: .relaxed)
        readerQueue.async { [self] in
            defer { readsInFlight.subtract(1, ordering: .relaxed) }
            trimQueued.store(false, ordering: .releasing)
            let cores = catalog.withLock { Array($0.streams.values) }
            let largestFirst = cores.map { core in (core, core.state.withLock { $0.index.cache.bytes }) }
                .filter { $0.1 > 0 }
                .sorted { $0.1 > $1.1 }
            let target = cacheBudget.trimTargetBytes
            for (core, _) in largestFirst where cacheBudget.usedBytes > target {
                core.state.withLock { $0.index.evictOldest(whileUsedAbove: target) }
            }
        }
    }

    /// Waits until no body read or cache trim is queued or running; for tests.
    func waitForReads() {
        while readsInFlight.load(ordering: .relaxed) > 0 { readerQueue.sync {} }
    }

    func streamTimerFired(_ core: StreamCore) {
        update(core) { state, now, effects in state.fireTimer(now: now, effects: &effects) }
    }

    // MARK: Retention

    func scheduleRetentionCheck() {
        let deadline = clock.nowMilliseconds + configuration.retentionCheckInterval.wholeMilliseconds
        retentionTimer.withLock { timer in
            guard !catalog.withLock({ $0.closed }) else { return }
            timer = clock.schedule(at: deadline) { [weak self] in
                guard let self else { return }
                self.runRetentionCheck()
                self.scheduleRetentionCheck()
            }
        }
    }

    /// Expires messages older than their fabric's TTL: consumed for every subscription, dropped without one.
    func runRetentionCheck() {
        let (cores, ttls) = catalog.withLock { (Array($0.streams.values), $0.ttlSeconds) }
        for core in cores {
            let ttl = ttls[FabricKey(tenant: core.address.tenant, fabric: core.address.fabric)] ?? defaultTTLSeconds
            guard ttl > 0 else { continue }
            update(core) { state, now, effects in
                state.expire(publishedAtOrBefore: now - ttl * 1000, dropUnsubscribed: true, now: now, effects: &effects)
            }
        }
    }
}
