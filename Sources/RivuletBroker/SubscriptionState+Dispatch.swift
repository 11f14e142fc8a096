import RivuletCore

extension SubscriptionState {
    /// Bound on messages parked in `pending` while their Key_Shared owner has no credit, so one stuck
    /// consumer cannot pull the whole backlog into memory-resident bookkeeping.
    static let maxParkedPerConsumer = 1000

    /// Hands deliverable messages to consumers within their credits, pending ones first, then new ones in order.
    /// Returns the deliverAt of a message it postponed, if any, so the caller can arm a timer.
    mutating func dispatch(in log: MessageIndex, now: Int64, effects: inout StreamEffects) -> Int64? {
        guard !consumers.isEmpty else { return nil }
        for index in consumers.indices where consumers[index].burstBytes != 0 { consumers[index].burstBytes = 0 }
        var batches: [UInt64: [Delivery]] = [:]
        var wake: Int64?
        // A body that must be read from the log stops dispatch there, so nothing overtakes it; the read
        // dispatches again once the body is cached.
        var stalled = false
        for sequence in pending.sorted() {
            guard consumers.contains(where: \.hasCredit) else { break }
            guard let entry = log.messages[sequence], !isConsumed(sequence) else {
                pending.remove(sequence)
                continue
            }
            if let index = pickConsumer(forKey: entry.key) {
                guard let message = entry.body?.message else {
                    effects.missing.append(sequence)
                    stalled = true
                    break
                }
                pending.remove(sequence)
                assign(message, to: index, now: now, batches: &batches)
            } else if type != .keyShared {
                break
            }
        }
        while !stalled, readPosition <= log.lastVisible, consumers.contains(where: \.hasCredit) {
            let sequence = readPosition
            guard let entry = log.messages[sequence], !isConsumed(sequence) else {
                readPosition += 1
                continue
            }
            if entry.deliverAt > now {
                delayed[sequence] = entry.deliverAt
                wake = min(wake ?? .max, entry.deliverAt)
                readPosition += 1
                continue
            }
            if let index = pickConsumer(forKey: entry.key) {
                guard let message = entry.body?.message else {
                    effects.missing.append(sequence)
                    break
                }
                assign(message, to: index, now: now, batches: &batches)
                readPosition += 1
            } else if type == .keyShared, pending.count < SubscriptionState.maxParkedPerConsumer * consumers.count {
                pending.insert(sequence)
                readPosition += 1
            } else {
                break
            }
        }
        for consumer in consumers {
            guard let deliveries = batches[consumer.id] else { continue }
            consumer.outbox.enqueue(deliveries)
            effects.drain(consumer.outbox)
        }
        return wake
    }

    private mutating func assign(_ message: StoredMessage, to index: Int, now: Int64, batches: inout [UInt64: [Delivery]]) {
        let sequence = message.id.sequence
        let consumerId = consumers[index].id
        outstanding[sequence] = consumerId
        if type == .keyShared {
            let key = message.key ?? ""
            outstandingKeys[sequence] = key
            keyOwners[key, default: KeyOwner(consumerId: consumerId, outstandingCount: 0)].outstandingCount += 1
        }
        consumers[index].inFlight[sequence] = now
        if consumers[index].pullMode { consumers[index].permits -= 1 }
        consumers[index].outMeter.record(bytes: message.payload.count, now: now)
        // A burst past the limit pauses the consumer. Its sink reports such a batch as congestion and reports
        // the consumer writable once the batch drained (`BrokerConfiguration.maxDispatchBurstBytes`).
        consumers[index].burstBytes += message.payload.count
        if consumers[index].burstBytes > consumers[index].maxBurstBytes { consumers[index].writable = false }
        outMeter.record(bytes: message.payload.count, now: now)
        let redeliveryCount = redeliveryCounts.isEmpty ? 0 : redeliveryCounts[sequence] ?? 0
        let delivery = Delivery(message: message, redeliveryCount: redeliveryCount)
        batches[consumerId, default: []].append(delivery)
    }

    /// Returns the consumer that should get a message with `messageKey` now, or nil when the one it must go to has no credit.
    private mutating func pickConsumer(forKey messageKey: String?) -> Int? {
        switch type {
        case .exclusive, .failover:
            guard let active = activeConsumerIndex() else { return nil }
            return consumers[active].hasCredit ? active : nil
        case .shared:
            return nextSharedConsumer()
        case .keyShared:
            let key = messageKey ?? ""
            let index = keyOwners[key].flatMap { owner in consumers.firstIndex { $0.id == owner.consumerId } }
                ?? hashedConsumerIndex(of: key)
            return consumers[index].hasCredit ? index : nil
        }
    }

    /// Returns Failover's active consumer: the lowest priority level, then the earliest connection.
    func activeConsumerIndex() -> Int? {
        consumers.indices.min { (consumers[$0].priorityLevel, consumers[$0].id) < (consumers[$1].priorityLevel, consumers[$1].id) }
    }

    /// Picks round robin among the consumers with credit at the lowest priority level that has any credit.
    private mutating func nextSharedConsumer() -> Int? {
        guard let level = consumers.filter(\.hasCredit).map(\.priorityLevel).min() else { return nil }
        for step in 0..<consumers.count {
            let index = (roundRobinIndex + step) % consumers.count
            if consumers[index].hasCredit, consumers[index].priorityLevel == level {
                roundRobinIndex = index + 1
                return index
            }
        }
        return nil
    }

    /// Returns the consumer an idle key goes to, by rendezvous hashing: the consumer whose id scores highest
    /// with the key. A consumer that leaves moves only its own keys, and one that joins takes about
    /// 1/n of the keys, so the keys of the other consumers stay where they are.
    func hashedConsumerIndex(of key: String) -> Int {
        // FNV-1a rather than `hashValue`, whose seed changes per process.
        var keyHash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            keyHash ^= UInt64(byte)
            keyHash = keyHash &* 0x100_0000_01b3
        }
        var best = 0
        var bestScore: UInt64 = 0
        for index in consumers.indices {
            let score = Self.mixed(keyHash ^ (consumers[index].id &* 0x9e37_79b9_7f4a_7c15))
            if index == 0 || score > bestScore {
                best = index
                bestScore = score
            }
        }
        return best
    }

    /// The SplitMix64 finalizer, which spreads every input bit over the whole result.
    private static func mixed(_ value: UInt64) -> UInt64 {
        var mixed = value
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }
}
