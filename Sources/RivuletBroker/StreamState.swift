import RivuletCore
import RivuletStorage
import Synchronization

/// A message just stored, with the log position it was stored at.
struct RetainedMessage: Sendable {
    var message: StoredMessage
    var position: LogPosition
    /// Size of the record body in the log.
    var sizeBytes: Int
}

/// The index record of a retained message whose body may not be in memory: where to read the body, and the
/// fields that dispatch, expiry and stats need without it.
struct IndexEntry: Sendable {
    var position: LogPosition
    /// Size of the record body in the log.
    var sizeBytes: Int
    var publishTime: Int64
    var deliverAt: Int64
    /// Kept so Key_Shared can pick a consumer before the body is read.
    var key: String?
    /// The body while it is cached.
    var body: CachedBody?
}

/// The retained messages of one stream and how far publishing has made them visible. Every retained message
/// has an index entry. Its body hangs off the entry while the engine-wide budget allows; an evicted body is read
/// back from the log (`RecordLog.read(at:)`) off the stream lock when dispatch needs it.
struct MessageIndex {
    var messages = SequenceTable<IndexEntry>()
    var cache: MessageCacheOrder
    /// The highest sequence up to which every publish completed; nothing above it is dispatched.
    var lastVisible: UInt64 = 0
    /// No message below it is retained.
    var lowestRetained: UInt64 = 1
    var storageBytes = 0

    init(budget: MessageCacheBudget) {
        cache = MessageCacheOrder(budget: budget)
    }

    /// Indexes a just published message and caches its body.
    mutating func insert(_ retained: RetainedMessage) {
        let message = retained.message
        let entry = IndexEntry(
            position: retained.position, sizeBytes: retained.sizeBytes, publishTime: message.publishTime,
            deliverAt: message.deliverAt, key: message.key, body: CachedBody(message)
        )
        insert(entry, sequence: message.id.sequence)
    }

    /// Indexes a message; recovery passes entries without a body.
    mutating func insert(_ entry: IndexEntry, sequence: UInt64) {
        if let replaced = messages.updateValue(entry, forKey: sequence) {
            storageBytes -= replaced.sizeBytes
            if replaced.body != nil { cache.dropped(bytes: replaced.sizeBytes) }
        }
        storageBytes += entry.sizeBytes
        if entry.body != nil { cache.added(sequence, bytes: entry.sizeBytes) }
    }

    mutating func remove(_ sequence: UInt64) {
        guard let removed = messages.removeValue(forKey: sequence) else { return }
        storageBytes -= removed.sizeBytes
        guard removed.body != nil else { return }
        cache.dropped(bytes: removed.sizeBytes)
        // Removal by acknowledgement leaves the sequence in the cache order; drop such leftovers once they dominate.
        if cache.sequences.count - cache.head > 2 * cache.count + 1024 {
            cache.sequences = cache.sequences[cache.head...].filter { messages[$0]?.body != nil }
            cache.head = 0
        }
    }

    /// Returns the body of a retained message when it is cached.
    func message(_ sequence: UInt64) -> StoredMessage? {
        messages[sequence]?.body?.message
    }

    /// Caches the body of a retained message (read back from the log, or just published).
    mutating func cacheBody(_ message: StoredMessage) {
        let sequence = message.id.sequence
        guard let entry = messages[sequence], entry.body == nil else { return }
        messages.modify(sequence) { $0.body = CachedBody(message) }
        cache.added(sequence, bytes: entry.sizeBytes)
    }

    /// Drops every cached body of the stream, returning their bytes to the budget.
    mutating func uncacheAll() {
        for sequence in cache.sequences[cache.head...] {
            messages.modify(sequence) { $0.body = nil }
        }
        cache.reset()
    }

    /// Evicts this stream's oldest cached bodies while the engine-wide budget is exceeded, keeping up to
    /// `keepingBytes` so one stream's publishing cannot wipe out another's recent messages. Returns true when
    /// the budget is still exceeded, so the largest caches must shrink (`EmbeddedEngine.trimCaches`).
    mutating func enforceCacheBudget(keepingBytes: Int) -> Bool {
        guard cache.budget.isOver else { return false }
        evictOldest(whileUsedAbove: cache.budget.limitBytes, keepingBytes: keepingBytes)
        return cache.budget.isOver
    }

    /// Evicts this stream's oldest cached bodies while the engine-wide cache uses more than `target` bytes and
    /// this stream caches more than `keepingBytes`.
    mutating func evictOldest(whileUsedAbove target: Int, keepingBytes: Int = 0) {
        while cache.budget.usedBytes > target, cache.bytes > keepingBytes, cache.head < cache.sequences.count {
            let sequence = cache.sequences[cache.head]
            cache.head += 1
            var droppedBytes: Int?
            messages.modify(sequence) { entry in
                guard entry.body != nil else { return }
                entry.body = nil
                droppedBytes = entry.sizeBytes
            }
            if let droppedBytes { cache.dropped(bytes: droppedBytes) }
        }
        if cache.head > 1024, cache.head * 2 > cache.sequences.count {
            cache.sequences.removeFirst(cache.head)
            cache.head = 0
        }
    }

    /// Returns the lowest retained sequence and moves `lowestRetained` past removed ones.
    mutating func firstRetained() -> UInt64? {
        while lowestRetained <= lastVisible, messages[lowestRetained] == nil { lowestRetained += 1 }
        return lowestRetained <= lastVisible ? lowestRetained : nil
    }

    /// Picks the uncached retained messages to read for `starts`: each start and the messages after it. The
    /// batch is bounded in count and in bytes (a quarter of the budget, but at least one message), so it fits
    /// the cache until it is dispatched.
    func fetchPlan(from starts: [UInt64]) -> [(sequence: UInt64, position: LogPosition)] {
        let byteLimit = min(4 << 20, cache.budget.limitBytes / 4)
        let countLimit = 512
        var plan: [(sequence: UInt64, position: LogPosition)] = []
        var planned: Set<UInt64> = []
        var bytes = 0
        for start in Set(starts).sorted() {
            var sequence = start
            var steps = 0
            while sequence <= lastVisible, steps < 4 * countLimit {
                defer {
                    sequence += 1
                    steps += 1
                }
                guard let entry = messages[sequence], entry.body == nil, !planned.contains(sequence) else { continue }
                if !plan.isEmpty, plan.count >= countLimit || bytes + entry.sizeBytes > byteLimit { return plan }
                plan.append((sequence, entry.position))
                planned.insert(sequence)
                bytes += entry.sizeBytes
            }
        }
        return plan
    }
}

/// The whole state of one stream, guarded by `StreamCore.state`. Its methods change the state and return
/// the side effects for the caller to perform after releasing the lock.
struct StreamState {
    let streamId: UInt64
    var deleted = false
    /// Highest sequence handed to a publish (visible or not).
    var lastAssigned: UInt64 = 0
    var index: MessageIndex
    /// Whether bodies of this stream are being read from the log; their arrival dispatches again.
    var fetchInFlight = false
    /// Publishes that completed ahead of an earlier one; nil marks a failed append.
    var completedAhead: [UInt64: RetainedMessage?] = [:]
    var subscriptions: [String: SubscriptionState] = [:]
    var producers: [UInt64: ProducerState] = [:]
    var readers: [UInt64: ReaderState] = [:]
    var nextConnectionId: UInt64 = 1
    /// Cursor changes applied in memory and not yet appended to the log.
    var pendingCursorChanges: [CursorChange] = []
    /// Cursor records appended and not yet completed. While one is in flight, acknowledgements collect in
    /// `pendingCursorChanges` and go out in one record when it completes.
    var cursorAppendsInFlight = 0
    var inMeter = RateMeter()
    var outMeter = RateMeter()
    /// Earliest time a timer is wanted, the time the armed timer fires, and that timer.
    var wantedWake: Int64?
    var armedWake: Int64?
    var timer: (any BrokerTimer)?

    init(streamId: UInt64, cacheBudget: MessageCacheBudget) {
        self.streamId = streamId
        self.index = MessageIndex(budget: cacheBudget)
    }

    mutating func makeConnectionId() -> UInt64 {
        defer { nextConnectionId += 1 }
        return nextConnectionId
    }

    // MARK: Publishing

    /// Reserves the next `count` sequences and returns the first; nil once the stream is deleted.
    mutating func assignSequences(_ count: Int) -> UInt64? {
        guard !deleted else { return nil }
        let first = lastAssigned + 1
        lastAssigned += UInt64(count)
        return first
    }

    /// Caches bodies read back from the log for dispatch; bodies of messages removed meanwhile are dropped.
    mutating func cacheFetched(_ fetched: [RetainedMessage], lost: [UInt64]) {
        fetchInFlight = false
        guard !deleted else { return }
        for retained in fetched where index.messages[retained.message.id.sequence] != nil {
            index.cacheBody(retained.message)
        }
        // An unreadable body would stall every cursor behind it; it is dropped like an expired message.
        for sequence in lost { index.remove(sequence) }
    }

    /// Records a finished append of the `count` messages from `firstSequence` (`retained` is nil when it failed),
    /// makes every contiguous completed message visible and dispatches them together.
    mutating func completePublish(
        firstSequence: UInt64, count: Int, retained: [RetainedMessage]?, producerId: UInt64?, now: Int64,
        effects: inout StreamEffects
    ) {
        var madeVisible = false
        if completedAhead.isEmpty, firstSequence == index.lastVisible + 1 {
            // The usual case: appends complete in the order their sequences were assigned.
            index.lastVisible += UInt64(count)
            for message in retained ?? [] { index.insert(message) }
            madeVisible = retained != nil
        } else {
            for offset in 0..<count {
                completedAhead[firstSequence + UInt64(offset)] = .some(retained?[offset])
            }
            while let entry = completedAhead.removeValue(forKey: index.lastVisible + 1) {
                index.lastVisible += 1
                guard let retained = entry else { continue }
                index.insert(retained)
                madeVisible = true
            }
        }
        if let retained {
            let bytes = retained.reduce(0) { $0 + $1.message.payload.count }
            inMeter.record(count: retained.count, bytes: bytes, now: now)
            if let producerId { producers[producerId]?.inMeter.record(count: retained.count, bytes: bytes, now: now) }
        }
        if madeVisible { dispatchAll(now: now, effects: &effects) }
    }

    // MARK: Dispatch

    mutating func dispatchAll(now: Int64, effects: inout StreamEffects) {
        // Iterate over copied keys: a live `keys` view shares the dictionary's storage, so each mutation below
        // would copy the dictionary and, through it, every consumer's in-flight table, once per publish.
        for name in Array(subscriptions.keys) { dispatch(subscription: name, now: now, effects: &effects) }
        for id in Array(readers.keys) { dispatchReader(id, now: now, effects: &effects) }
    }

    mutating func dispatch(subscription name: String, now: Int64, effects: inout StreamEffects) {
        guard var subscription = subscriptions.removeValue(forKey: name) else { return }
        let countBefore = subscription.outMeter.totalCount
        let bytesBefore = subscription.outMeter.totalBytes
        if let wake = subscription.dispatch(in: index, now: now, effects: &effects) { requestWake(at: wake) }
        if let due = subscription.nextDue() { requestWake(at: due) }
        for sequence in subscription.deadLettered {
            guard let policy = subscription.deadLetterPolicy, let entry = index.messages[sequence] else { continue }
            effects.deadLetters.append(DeadLetter(
                id: MessageID(streamId: streamId, sequence: sequence), position: entry.position,
                message: index.message(sequence), subscription: name, policy: policy
            ))
        }
        subscription.deadLettered.removeAll()
        let count = subscription.outMeter.totalCount - countBefore
        if count > 0 { outMeter.record(count: count, bytes: subscription.outMeter.totalBytes - bytesBefore, now: now) }
        subscriptions[name] = subscription
    }

    mutating func dispatchReader(_ id: UInt64, now: Int64, effects: inout StreamEffects) {
        guard var reader = readers[id] else { return }
        var deliveries: [Delivery] = []
        var burstBytes = 0
        while reader.writable, reader.inFlightCount < reader.window, reader.nextSequence <= index.lastVisible {
            if let entry = index.messages[reader.nextSequence] {
                guard let message = entry.body?.message else {
                    effects.missing.append(reader.nextSequence)
                    break
                }
                deliveries.append(Delivery(message: message, redeliveryCount: 0))
                reader.inFlightCount += 1
                burstBytes += message.payload.count
                if burstBytes > reader.maxBurstBytes { reader.writable = false }
            }
            reader.nextSequence += 1
        }
        readers[id] = reader
        guard !deliveries.isEmpty else { return }
        reader.outbox.enqueue(deliveries)
        effects.drain(reader.outbox)
    }

    // MARK: Timers

    mutating func requestWake(at time: Int64) {
        wantedWake = min(wantedWake ?? .max, time)
    }

    /// Arms the stream's single timer for the earliest wanted time, replacing a later one.
    mutating func armTimer(clock: any BrokerClock, action: @escaping @Sendable () -> Void) {
        guard !deleted, let wanted = wantedWake else { return }
        if let armed = armedWake, armed <= wanted { return }
        timer?.cancel()
        armedWake = wanted
        timer = clock.schedule(at: wanted, action)
    }

    /// Handles everything due at `now`, then dispatches.
    mutating func fireTimer(now: Int64, effects: inout StreamEffects) {
        armedWake = nil
        timer = nil
        wantedWake = nil
        for name in Array(subscriptions.keys) {
            if let next = subscriptions[name]?.processTimers(now: now) { requestWake(at: next) }
        }
        dispatchAll(now: now, effects: &effects)
    }

    func cancelTimer() {
        timer?.cancel()
    }
}
