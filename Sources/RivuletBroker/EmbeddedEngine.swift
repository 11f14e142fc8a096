import Dispatch
import RivuletCore
import RivuletStorage
import Synchronization

/// The embedded `StreamEngine`: streams, subscriptions and dispatch in memory, made durable through one shared
/// `RecordLog`. Message bodies are cached within `BrokerConfiguration.messageCacheBytes` and read back from the
/// log when evicted. A new engine over the same log rebuilds every stream, subscription cursor, fabric TTL and
/// retained message's index entry from the latest checkpoint plus the records after it.
///
/// Locks, in the order they may nest: the append gate (orders appends, so sequences reach the log in order),
/// the catalog, one stream's state, one sink outbox. Sinks, producer completions and log appends are called
/// with no stream or catalog lock held. A log completion that runs inside `append` (as `MemoryLog`'s does)
/// hands its effects back to the appending thread, which performs them after leaving the gate.
public final class EmbeddedEngine: StreamEngine {
    let log: any RecordLog
    let configuration: BrokerConfiguration
    let logger: Logger
    let clock: any BrokerClock

    // Taken while reserving a sequence or catalog change and calling `log.append`, so records reach the log in
    // the order they were decided. A checkpoint takes it to read the log position and the append ticket.
    let appendGate = Mutex(())
    let inFlight = InFlightAppends()
    // Guards the stream table, id assignment, fabric TTLs and the closed flag.
    let catalog = Mutex(Catalog())
    // Guards the periodic retention timer.
    let retentionTimer = Mutex<(any BrokerTimer)?>(nil)
    let checkpointQueue = DispatchQueue(label: "rivulet.broker.checkpoint")
    /// Log position of the last checkpoint, and whether one is queued.
    let lastCheckpointPosition = Atomic<UInt64>(0)
    let checkpointQueued = Atomic<Bool>(false)
    /// Bytes of message bodies all streams may keep in memory for dispatch.
    let cacheBudget: MessageCacheBudget
    // Reads evicted bodies from the log and trims caches: disk reads never run on a network thread, and
    // never under a stream lock.
    let readerQueue = DispatchQueue(label: "rivulet.broker.reader")
    /// Body reads and cache trims queued or running, and whether a cache trim is queued.
    let readsInFlight = Atomic<Int>(0)
    let trimQueued = Atomic<Bool>(false)

    /// Rebuilds the state from `log` and starts the retention timer. Throws when the checkpoint or the log
    /// cannot be read; records it cannot decode are skipped with a warning.
    public init(log: any RecordLog, configuration: BrokerConfiguration, logger: Logger, clock: any BrokerClock = SystemClock()) throws {
        self.log = log
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.cacheBudget = MessageCacheBudget(limitBytes: configuration.messageCacheBytes)
        try recover()
        scheduleRetentionCheck()
    }

    // MARK: Streams

    public func createStream(_ address: StreamAddress) throws(EngineError) {
        _ = try createStreamCore(address)
    }

    @discardableResult
    func createStreamCore(_ address: StreamAddress) throws(EngineError) -> StreamCore {
        if let problem = NameRules.streamNameProblem(address.name) { throw .invalidArgument(problem) }
        let now = clock.nowMilliseconds
        let waiter = AppendWaiter()
        let deferred = try appendGate.withLock { _ throws(EngineError) -> StreamEffects in
            let id = try catalog.withLock { catalog throws(EngineError) -> UInt64 in
                guard !catalog.closed else { throw EngineError.unavailable("the engine is shut down") }
                guard catalog.streams[address] == nil, catalog.creating[address] == nil else {
                    throw EngineError.streamExists("stream '\(address.topic)' already exists")
                }
                try checkStreamLimit(address, catalog)
                let group = DispatchGroup()
                group.enter()
                catalog.creating[address] = group
                defer { catalog.nextStreamId += 1 }
                return catalog.nextStreamId
            }
            let record = CatalogChange.streamCreated(id: id, address: address, createdAt: now).record(timestamp: now)
            return appendLocked([record]) { [self] result in
                let group = catalog.withLock { catalog in
                    if case .success = result { catalog.insert(StreamCore(id: id, address: address, createdAt: now, cacheBudget: cacheBudget)) }
                    return catalog.creating.removeValue(forKey: address)
                }
                group?.leave()
                waiter.finish(result)
                return StreamEffects()
            }
        }
        perform(deferred)
        let (result, _) = waiter.wait()
        if case .failure(let error) = result {
            logger.error("stream creation not persisted", ["stream": address.description, "error": "\(error)"])
            throw .storageFailure("stream '\(address.topic)' was not created: \(error)")
        }
        guard let core = catalog.withLock({ $0.streams[address] }) else {
            throw .streamNotFound("stream '\(address.topic)' was deleted while being created")
        }
        logger.info("stream created", ["stream": address.description, "streamId": "\(core.id)"])
        return core
    }

    /// Rejects a new stream when its tenant's fabric already has `maxStreamsPerFabric`, counting those being created.
    private func checkStreamLimit(_ address: StreamAddress, _ catalog: borrowing Catalog) throws(EngineError) {
        let limit = configuration.maxStreamsPerFabric
        let inFabric = { (other: StreamAddress) in other.tenant == address.tenant && other.fabric == address.fabric }
        let count = catalog.streams.keys.count(where: inFabric) + catalog.creating.keys.count(where: inFabric)
        guard count < limit else {
            throw .notAllowed("fabric '\(address.fabric)' already has the maximum of \(limit) streams: delete one first")
        }
    }

    public func deleteStream(_ address: StreamAddress, force: Bool) throws(EngineError) {
        let waiter = AppendWaiter()
        let now = clock.nowMilliseconds
        let deferred = try appendGate.withLock { _ throws(EngineError) -> StreamEffects in
            let core = try stream(address)
            try core.state.withLock { state throws(EngineError) in
                guard !state.deleted else { throw EngineError.streamNotFound("stream '\(address.topic)' not found") }
                guard force || !state.hasClients else {
                    throw EngineError.streamHasClients("stream '\(address.topic)' has connected producers or consumers; delete it with force")
                }
                state.deleted = true
            }
            let record = LogRecord(type: .streamDeletion, streamId: core.id, sequence: 0, timestamp: now, body: [])
            return appendLocked([record]) { [self] result in
                var effects = StreamEffects()
                switch result {
                case .success:
                    catalog.withLock { $0.remove(core) }
                    core.state.withLock { state in
                        state.closeAllClients(reason: "stream '\(address.topic)' was deleted", effects: &effects)
                        state.pendingCursorChanges.removeAll()
                        state.index.uncacheAll()
                        state.cancelTimer()
                    }
                case .failure:
                    core.state.withLock { $0.deleted = false }
                }
                waiter.finish(result, effects: effects)
                return StreamEffects()
            }
        }
        perform(deferred)
        let (result, effects) = waiter.wait()
        perform(effects)
        if case .failure(let error) = result {
            logger.error("stream deletion not persisted", ["stream": address.description, "error": "\(error)"])
            throw .storageFailure("stream '\(address.topic)' was not deleted: \(error)")
        }
        logger.info("stream deleted", ["stream": address.description, "force": "\(force)"])
    }

    public func streamExists(_ address: StreamAddress) -> Bool {
        catalog.withLock { $0.streams[address] != nil }
    }

    public func listStreams(tenant: String, fabric: String, scope: StreamScope?) -> [StreamInfo] {
        catalog.withLock { $0.streams(tenant: tenant, fabric: fabric, scope: scope) }
            .map { StreamInfo(address: $0.address, createdAt: $0.createdAt) }
            .sorted { ($0.address.scope.rawValue, $0.address.name) < ($1.address.scope.rawValue, $1.address.name) }
    }

    /// Returns the live stream at `address`. Throws `streamNotFound`, or `unavailable` after shutdown.
    func stream(_ address: StreamAddress) throws(EngineError) -> StreamCore {
        try catalog.withLock { catalog throws(EngineError) -> StreamCore in
            guard !catalog.closed else { throw EngineError.unavailable("the engine is shut down") }
            guard let core = catalog.streams[address] else { throw EngineError.streamNotFound("stream '\(address.topic)' not found") }
            return core
        }
    }

    func streamCreatingIfMissing(_ address: StreamAddress, create: Bool) throws(EngineError) -> StreamCore {
        do {
            return try stream(address)
        } catch .streamNotFound where create {
            do {
                return try createStreamCore(address)
            } catch .streamExists {
                // Another caller is creating it: wait (bounded) for its record, then use the stream.
                let group = catalog.withLock { $0.creating[address] }
                _ = group?.wait(timeout: .now() + .seconds(30))
                return try stream(address)
            }
        }
    }

    // MARK: Fabric TTL

    public func messageTTL(tenant: String, fabric: String) -> Int {
        Int(catalog.withLock { $0.ttlSeconds[FabricKey(tenant: tenant, fabric: fabric)] } ?? defaultTTLSeconds)
    }

    var defaultTTLSeconds: Int64 { configuration.defaultMessageTTL.wholeMilliseconds / 1000 }

    /// Sets the fabric's TTL in seconds; 0 turns expiry off. Throws `invalidArgument` for a negative value.
    public func setMessageTTL(tenant: String, fabric: String, seconds: Int) throws(EngineError) {
        guard seconds >= 0 else { throw .invalidArgument("TTL \(seconds) is invalid: use 0 or more seconds") }
        let now = clock.nowMilliseconds
        let waiter = AppendWaiter()
        let deferred = try appendGate.withLock { _ throws(EngineError) -> StreamEffects in
            guard !catalog.withLock({ $0.closed }) else { throw EngineError.unavailable("the engine is shut down") }
            let change = CatalogChange.messageTTLSet(tenant: tenant, fabric: fabric, seconds: Int64(seconds))
            return appendLocked([change.record(timestamp: now)]) { [self] result in
                if case .success = result {
                    catalog.withLock { $0.ttlSeconds[FabricKey(tenant: tenant, fabric: fabric)] = Int64(seconds) }
                }
                waiter.finish(result)
                return StreamEffects()
            }
        }
        perform(deferred)
        if case .failure(let error) = waiter.wait().0 {
            throw .storageFailure("TTL of fabric '\(fabric)' was not changed: \(error)")
        }
        logger.info("message TTL set", ["tenant": tenant, "fabric": fabric, "seconds": "\(seconds)"])
        runRetentionCheck()
    }

    // MARK: Shutdown

    /// Ends every client with `engineClosed`, persists queued cursor changes and writes a checkpoint.
    /// The log stays open: its owner closes it.
    public func shutdown() {
        let cores = catalog.withLock { catalog -> [StreamCore]? in
            guard !catalog.closed else { return nil }
            catalog.closed = true
            return Array(catalog.streams.values)
        }
        guard let cores else { return }
        retentionTimer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        var effects = StreamEffects()
        for core in cores {
            core.state.withLock { state in
                state.closeAllClients(reason: "the engine is shutting down", effects: &effects)
                state.cancelTimer()
            }
        }
        perform(effects)
        for core in cores { _ = flushCursorChanges(core, force: true)?.wait() }
        checkpointQueue.sync { writeCheckpoint() }
        logger.info("engine shut down", ["streams": "\(cores.count)"])
    }
}
