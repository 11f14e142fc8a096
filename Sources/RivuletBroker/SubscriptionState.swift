import RivuletCore

/// A durable subscription: its cursor (mark-delete position plus individually acknowledged sequences above it)
/// and the live dispatch state of its consumers. Only the cursor is persisted; see `CursorRecord`.
struct SubscriptionState {
    let name: String
    /// The type of the attached consumers; kept after they leave so stats can show it.
    var type: SubscriptionType
    /// Every sequence at or below it is consumed.
    var markDelete: UInt64
    /// Acknowledged sequences above `markDelete`.
    var acknowledged: Set<UInt64> = []
    /// The next sequence never handed to this subscription's dispatcher.
    var readPosition: UInt64
    /// Sequences below `readPosition` waiting for (re)delivery: returned by a closing consumer, nacked and due,
    /// timed out, delayed and due, or held back for a busy Key_Shared consumer.
    var pending: Set<UInt64> = []
    /// Sequence to the consumer it was delivered to and that has not acknowledged it.
    var outstanding: [UInt64: UInt64] = [:]
    var redeliveryCounts: [UInt64: Int] = [:]
    /// Sequence to its deliverAt, for messages not yet due.
    var delayed: [UInt64: Int64] = [:]
    /// Sequence to the time its negative acknowledgement redelivers it.
    var negativelyAcknowledged: [UInt64: Int64] = [:]
    /// In connection order (ids increase).
    var consumers: [ConsumerState] = []
    var roundRobinIndex = 0
    /// Key_Shared: the owner of each key that has unacknowledged messages. Keyless messages use "".
    /// A key stays with its consumer until all its delivered messages are acknowledged (or come back), so a
    /// consumer that joins never receives a key ahead of that key's earlier messages. Idle keys have no entry
    /// and go to the consumer `hashedConsumerIndex(of:)` picks, so the map has at most one entry per message
    /// in flight.
    var keyOwners: [String: KeyOwner] = [:]
    /// Key_Shared: the key of each outstanding message.
    var outstandingKeys: [UInt64: String] = [:]
    var redeliverMeter = RateMeter()
    var outMeter = RateMeter()
    /// Set by the latest consumer that asked for a dead letter stream.
    var deadLetterPolicy: DeadLetterPolicy?
    /// Sequences that exceeded the redelivery limit and wait to be moved to the dead letter stream.
    var deadLettered: [UInt64] = []

    init(name: String, type: SubscriptionType, markDelete: UInt64) {
        self.name = name
        self.type = type
        self.markDelete = markDelete
        self.readPosition = markDelete + 1
    }

    func isConsumed(_ sequence: UInt64) -> Bool {
        sequence <= markDelete || acknowledged.contains(sequence)
    }

    /// Messages retained and not yet consumed.
    func backlog(in log: MessageIndex) -> Int {
        log.messages.keys.reduce(0) { $0 + (isConsumed($1) || $1 > log.lastVisible ? 0 : 1) }
    }

    // MARK: Acknowledgement

    /// Applies an acknowledgement of `ranges`; returns the ranges that changed the cursor.
    mutating func acknowledge(_ ranges: [ClosedRange<UInt64>], in log: MessageIndex) -> [ClosedRange<UInt64>] {
        var applied: [UInt64] = []
        var appliedRanges: [ClosedRange<UInt64>] = []
        for range in ranges {
            let upper = min(range.upperBound, log.lastVisible)
            guard range.lowerBound <= upper else { continue }
            if range.lowerBound <= markDelete + 1 {
                guard upper > markDelete else { continue }
                appliedRanges.append((markDelete + 1)...upper)
                dropTracking(from: markDelete + 1, through: upper)
                markDelete = upper
            } else {
                for sequence in range.lowerBound...upper where log.messages[sequence] != nil && !isConsumed(sequence) {
                    acknowledged.insert(sequence)
                    dropTracking(of: sequence)
                    applied.append(sequence)
                }
            }
        }
        advanceMarkDelete(in: log)
        return CursorRecord.ranges(of: applied) + appliedRanges
    }

    private mutating func advanceMarkDelete(in log: MessageIndex) {
        while markDelete < log.lastVisible {
            let next = markDelete + 1
            guard acknowledged.remove(next) != nil || log.messages[next] == nil else { break }
            markDelete = next
        }
        if readPosition <= markDelete { readPosition = markDelete + 1 }
    }

    private mutating func dropTracking(of sequence: UInt64) {
        releaseOutstanding(sequence)
        // Skipping empty collections saves a hash per collection on every acknowledgement.
        if !pending.isEmpty { pending.remove(sequence) }
        if !delayed.isEmpty { delayed.removeValue(forKey: sequence) }
        if !negativelyAcknowledged.isEmpty { negativelyAcknowledged.removeValue(forKey: sequence) }
        if !redeliveryCounts.isEmpty { redeliveryCounts.removeValue(forKey: sequence) }
    }

    /// Forgets every sequence in `first...last`: one by one for a short span (the common in-order ack), by
    /// filtering each collection for a long one (cumulative acks, cleared backlogs, expiry).
    private mutating func dropTracking(from first: UInt64, through sequence: UInt64) {
        if sequence - first < 256 {
            for tracked in first...sequence {
                if !acknowledged.isEmpty { acknowledged.remove(tracked) }
                dropTracking(of: tracked)
            }
            return
        }
        acknowledged = acknowledged.filter { $0 > sequence }
        for tracked in outstanding.keys where tracked <= sequence { dropTracking(of: tracked) }
        pending = pending.filter { $0 > sequence }
        delayed = delayed.filter { $0.key > sequence }
        negativelyAcknowledged = negativelyAcknowledged.filter { $0.key > sequence }
        redeliveryCounts = redeliveryCounts.filter { $0.key > sequence }
    }

    // MARK: Redelivery

    /// Forgets that `sequence` is out with a consumer: frees its slot and, when it was the last unacknowledged
    /// message of its Key_Shared key, releases the key. Returns the index of the consumer that had it.
    @discardableResult
    mutating func releaseOutstanding(_ sequence: UInt64) -> Int? {
        guard let consumerId = outstanding.removeValue(forKey: sequence) else { return nil }
        if !outstandingKeys.isEmpty, let key = outstandingKeys.removeValue(forKey: sequence), var owner = keyOwners[key] {
            owner.outstandingCount -= 1
            keyOwners[key] = owner.outstandingCount > 0 ? owner : nil
        }
        guard let index = consumers.firstIndex(where: { $0.id == consumerId }) else { return nil }
        consumers[index].inFlight.removeValue(forKey: sequence)
        return index
    }

    /// Returns an outstanding message to `pending` with its redelivery count raised.
    mutating func requeue(_ sequence: UInt64, now: Int64) {
        guard outstanding[sequence] != nil else { return }
        releaseOutstanding(sequence)
        scheduleRedelivery(sequence, now: now)
    }

    /// Raises the redelivery count and queues the message, or sets it aside for the dead letter stream once
    /// it was delivered `maxRedeliverCount + 1` times.
    private mutating func scheduleRedelivery(_ sequence: UInt64, now: Int64) {
        let count = redeliveryCounts[sequence, default: 0] + 1
        redeliveryCounts[sequence] = count
        redeliverMeter.record(bytes: 0, now: now)
        if let policy = deadLetterPolicy, count > policy.maxRedeliverCount {
            deadLettered.append(sequence)
        } else {
            pending.insert(sequence)
        }
    }

    /// Detaches a consumer and queues its unacknowledged messages for the others (or the next one).
    mutating func removeConsumer(_ consumerId: UInt64, now: Int64) -> ConsumerState? {
        guard let index = consumers.firstIndex(where: { $0.id == consumerId }) else { return nil }
        for sequence in consumers[index].inFlight.keys.sorted() { requeue(sequence, now: now) }
        return consumers.remove(at: index)
    }

    /// Frees the consumer's slot now and redelivers the message after the consumer's negative-ack delay.
    mutating func negativelyAcknowledge(_ sequence: UInt64, now: Int64) -> Int64? {
        guard let index = releaseOutstanding(sequence) else { return nil }
        let due = now + consumers[index].negativeAckDelayMilliseconds
        negativelyAcknowledged[sequence] = due
        return due
    }

    /// Moves what fell due by `now` to `pending`; returns the next time something falls due.
    mutating func processTimers(now: Int64) -> Int64? {
        for (sequence, due) in delayed where due <= now {
            delayed.removeValue(forKey: sequence)
            pending.insert(sequence)
        }
        for (sequence, due) in negativelyAcknowledged where due <= now {
            negativelyAcknowledged.removeValue(forKey: sequence)
            scheduleRedelivery(sequence, now: now)
        }
        for consumer in consumers {
            guard let timeout = consumer.ackTimeoutMilliseconds else { continue }
            for (sequence, deliveredAt) in consumer.inFlight where deliveredAt + timeout <= now {
                requeue(sequence, now: now)
            }
        }
        return nextDue()
    }

    func nextDue() -> Int64? {
        var due = [delayed.values.min(), negativelyAcknowledged.values.min()].compactMap { $0 }.min()
        for consumer in consumers {
            guard let timeout = consumer.ackTimeoutMilliseconds, let oldest = consumer.inFlight.values.min() else { continue }
            due = min(due ?? .max, oldest + timeout)
        }
        return due
    }
}

/// The Key_Shared consumer that owns a key, and how many of the key's messages it has not acknowledged.
struct KeyOwner: Equatable {
    var consumerId: UInt64
    var outstandingCount: Int
}

/// Redelivery limit of a subscription. After `maxRedeliverCount + 1` deliveries a message moves to the stream
/// `topic`, or to `<stream>-<subscription>-DLQ` in the same tenant, fabric and scope when `topic` is nil.
struct DeadLetterPolicy: Sendable {
    var maxRedeliverCount: Int
    var topic: String?
}
