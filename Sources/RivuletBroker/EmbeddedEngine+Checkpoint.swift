import RivuletCore
import RivuletStorage

extension EmbeddedEngine {
    /// Queues a checkpoint once the log has grown by the configured interval since the last one.
    func checkpointIfDue() {
        let grown = log.endPosition.rawValue &- lastCheckpointPosition.load(ordering: .relaxed)
        guard grown >= configuration.checkpointIntervalBytes,
            !checkpointQueued.exchange(true, ordering: .acquiringAndReleasing)
        else { return }
        checkpointQueue.async { [self] in
            writeCheckpoint()
            checkpointQueued.store(false, ordering: .releasing)
        }
    }

    /// Writes a checkpoint of the whole state, then releases the log segments nothing needs any more.
    /// Runs on `checkpointQueue`; it waits for earlier appends to complete without holding the append gate.
    func writeCheckpoint() {
        let (position, ticket) = appendGate.withLock { _ in (log.endPosition, inFlight.upcomingTicket) }
        inFlight.waitForCompletion(below: ticket)
        let (snapshot, oldestRetained) = snapshotState()
        do {
            try log.writeCheckpoint(Checkpoint(position: position, state: snapshot.encoded()))
        } catch {
            logger.warning("checkpoint not written", ["position": "\(position)", "error": "\(error)"])
            return
        }
        lastCheckpointPosition.store(position.rawValue, ordering: .relaxed)
        let releasable = min(position, oldestRetained ?? position)
        log.releaseSegments(before: releasable)
        logger.debug("checkpoint written", ["position": "\(position)", "releasedBefore": "\(releasable)"])
    }

    /// Captures the state as a checkpoint, with the log position of the oldest retained message.
    private func snapshotState() -> (CheckpointState, LogPosition?) {
        let (cores, ttls, nextStreamId) = catalog.withLock { catalog in
            (catalog.streams.values.sorted { $0.id < $1.id }, catalog.ttlSeconds, catalog.nextStreamId)
        }
        var oldest: LogPosition?
        var streams: [CheckpointState.Stream] = []
        for core in cores {
            let saved = core.state.withLock { state -> CheckpointState.Stream? in
                guard !state.deleted else { return nil }
                let messages = state.index.messages
                    .map { (sequence: $0.key, position: $0.value.position) }
                    .sorted { $0.sequence < $1.sequence }
                let subscriptions = state.subscriptions.values.sorted { $0.name < $1.name }.map {
                    CheckpointState.Subscription(name: $0.name, type: $0.type, markDelete: $0.markDelete, acknowledged: $0.acknowledged.sorted())
                }
                return CheckpointState.Stream(
                    id: core.id, address: core.address, createdAt: core.createdAt, lastSequence: state.index.lastVisible,
                    messages: messages, subscriptions: subscriptions
                )
            }
            guard let saved else { continue }
            if let first = saved.messages.first?.position { oldest = min(oldest ?? first, first) }
            streams.append(saved)
        }
        let savedTTLs = ttls.map { CheckpointState.FabricTTL(tenant: $0.key.tenant, fabric: $0.key.fabric, seconds: $0.value) }
            .sorted { ($0.tenant, $0.fabric) < ($1.tenant, $1.fabric) }
        return (CheckpointState(nextStreamId: nextStreamId, ttls: savedTTLs, streams: streams), oldest)
    }
}
