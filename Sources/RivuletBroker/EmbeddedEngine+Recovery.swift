import RivuletCore
import RivuletStorage

/// Counts of records recovery replayed and skipped, for its summary line.
struct RecoveryCounts {
    var records = 0
    var messages = 0
    var skipped = 0
}

extension EmbeddedEngine {
    /// Loads the latest checkpoint, replays the log after it, then drops consumed and expired messages.
    /// Only index entries are rebuilt: bodies are read back when dispatch first needs them, so memory after a
    /// restart grows with the number of retained messages, not their bytes.
    func recover() throws {
        var counts = RecoveryCounts()
        var replayFrom = LogPosition.zero
        if let checkpoint = try log.latestCheckpoint() {
            let state: CheckpointState
            do {
                state = try CheckpointState(decoding: checkpoint.state)
            } catch {
                throw EngineError.storageFailure("checkpoint at log position \(checkpoint.position) is unreadable: \(error.reason)")
            }
            restore(state, counts: &counts)
            replayFrom = checkpoint.position
            lastCheckpointPosition.store(checkpoint.position.rawValue, ordering: .relaxed)
        }
        try log.replay(from: replayFrom) { position, record in
            counts.records += 1
            apply(record, at: position, counts: &counts)
        }
        let cores = catalog.withLock { Array($0.streams.values) }
        for core in cores {
            core.state.withLock { state in
                guard state.index.lastVisible > 0 else { return }
                state.removeConsumedByAll([1...state.index.lastVisible])
            }
        }
        runRetentionCheck()
        if counts.skipped > 0 {
            logger.warning("recovery skipped unreadable records", ["count": "\(counts.skipped)"])
        }
        logger.info("recovery finished", [
            "streams": "\(cores.count)", "checkpointPosition": "\(replayFrom)", "replayedRecords": "\(counts.records)",
            "retainedMessages": "\(cores.reduce(0) { $0 + $1.state.withLock { $0.index.messages.count } })",
        ])
    }

    private func restore(_ checkpoint: CheckpointState, counts: inout RecoveryCounts) {
        catalog.withLock { catalog in
            catalog.nextStreamId = max(catalog.nextStreamId, checkpoint.nextStreamId)
            for ttl in checkpoint.ttls { catalog.ttlSeconds[FabricKey(tenant: ttl.tenant, fabric: ttl.fabric)] = ttl.seconds }
        }
        for saved in checkpoint.streams {
            let core = StreamCore(id: saved.id, address: saved.address, createdAt: saved.createdAt, cacheBudget: cacheBudget)
            core.state.withLock { state in
                state.lastAssigned = saved.lastSequence
                state.index.lastVisible = saved.lastSequence
                state.index.lowestRetained = saved.messages.first?.sequence ?? saved.lastSequence + 1
                for entry in saved.messages {
                    guard let indexed = readIndexEntry(streamId: saved.id, sequence: entry.sequence, at: entry.position) else {
                        counts.skipped += 1
                        continue
                    }
                    state.index.insert(indexed, sequence: entry.sequence)
                }
                for savedSubscription in saved.subscriptions {
                    var subscription = SubscriptionState(
                        name: savedSubscription.name, type: savedSubscription.type, markDelete: savedSubscription.markDelete
                    )
                    subscription.acknowledged = Set(savedSubscription.acknowledged)
                    state.subscriptions[savedSubscription.name] = subscription
                }
            }
            catalog.withLock { $0.insert(core) }
        }
    }

    /// Reads the index fields of a retained message without keeping its body.
    /// NOTE: one read per retained message in the checkpoint; storing the index fields in the checkpoint
    /// would make restart time independent of the backlog.
    private func readIndexEntry(streamId: UInt64, sequence: UInt64, at position: LogPosition) -> IndexEntry? {
        do {
            let record = try log.read(at: position)
            guard record.type == .message, record.streamId == streamId, record.sequence == sequence,
                let entry = indexEntry(of: record, at: position)
            else {
                logger.warning("retained message unreadable", ["streamId": "\(streamId)", "sequence": "\(sequence)", "position": "\(position)"])
                return nil
            }
            return entry
        } catch {
            logger.warning("retained message unreadable", ["streamId": "\(streamId)", "position": "\(position)", "error": "\(error)"])
            return nil
        }
    }

    /// Applies one replayed record. Records already contained in the checkpoint change nothing.
    private func apply(_ record: LogRecord, at position: LogPosition, counts: inout RecoveryCounts) {
        switch record.type {
        case .catalog:
            applyCatalog(record, counts: &counts)
        case .streamDeletion:
            catalog.withLock { catalog in
                guard let core = catalog.streamsById[record.streamId] else { return }
                catalog.remove(core)
            }
        case .message:
            guard let core = catalog.withLock({ $0.streamsById[record.streamId] }) else { return }
            let entry = indexEntry(of: record, at: position)
            if entry == nil { counts.skipped += 1 }
            core.state.withLock { state in
                guard record.sequence > state.lastAssigned else { return }
                state.lastAssigned = record.sequence
                state.index.lastVisible = record.sequence
                guard let entry else { return }
                state.index.insert(entry, sequence: record.sequence)
                counts.messages += 1
            }
        case .cursor:
            guard let core = catalog.withLock({ $0.streamsById[record.streamId] }) else { return }
            do {
                let changes = try CursorRecord.changes(in: record)
                core.state.withLock { state in
                    for change in changes { state.replay(change) }
                }
            } catch {
                counts.skipped += 1
            }
        }
    }

    private func applyCatalog(_ record: LogRecord, counts: inout RecoveryCounts) {
        let change: CatalogChange
        do {
            change = try CatalogChange(record: record)
        } catch {
            counts.skipped += 1
            return
        }
        catalog.withLock { catalog in
            switch change {
            case .streamCreated(let id, let address, let createdAt):
                if catalog.streamsById[id] == nil, catalog.streams[address] == nil {
                    catalog.insert(StreamCore(id: id, address: address, createdAt: createdAt, cacheBudget: cacheBudget))
                }
                catalog.nextStreamId = max(catalog.nextStreamId, id + 1)
            case .messageTTLSet(let tenant, let fabric, let seconds):
                catalog.ttlSeconds[FabricKey(tenant: tenant, fabric: fabric)] = seconds
            }
        }
    }
}

extension StreamState {
    /// Applies a replayed cursor change; a subscription that already exists keeps its newer cursor.
    mutating func replay(_ change: CursorChange) {
        switch change {
        case .created(let name, let markDelete, let type):
            guard subscriptions[name] == nil else { return }
            subscriptions[name] = SubscriptionState(name: name, type: type, markDelete: markDelete)
        case .acknowledged(let name, let ranges):
            guard var subscription = subscriptions.removeValue(forKey: name) else { return }
            _ = subscription.acknowledge(ranges, in: index)
            subscriptions[name] = subscription
        case .deleted(let name):
            subscriptions.removeValue(forKey: name)
        }
    }
}
