import RivuletCore

extension StreamState {
    /// Marks messages published at or before `cutoff` (epoch ms) consumed for every subscription. Without
    /// subscriptions, `dropUnsubscribed` removes them instead (TTL); otherwise they stay.
    mutating func expire(publishedAtOrBefore cutoff: Int64, dropUnsubscribed: Bool, now: Int64, effects: inout StreamEffects) {
        var last: UInt64?
        var sequence = index.firstRetained() ?? index.lastVisible + 1
        while sequence <= index.lastVisible {
            if let entry = index.messages[sequence] {
                // Publish times are taken in sequence order under the append gate, so the first newer message ends the
                // scan (unless the wall clock stepped back).
                guard entry.publishTime <= cutoff else { break }
                last = sequence
            }
            sequence += 1
        }
        guard let last else { return }
        if subscriptions.isEmpty {
            guard dropUnsubscribed else { return }
            for sequence in index.lowestRetained...last { index.remove(sequence) }
            index.lowestRetained = last + 1
            return
        }
        for name in Array(subscriptions.keys) {
            acknowledge([1...last], subscription: name, now: now, effects: &effects)
        }
    }

    /// Returns the retained message count, and per subscription the retained messages not yet consumed.
    func backlog() -> StreamBacklog {
        var perSubscription: [String: Int] = [:]
        for (name, subscription) in subscriptions { perSubscription[name] = subscription.backlog(in: index) }
        let retained = index.messages.count
        return StreamBacklog(
            totalMessages: retained, messageBacklog: perSubscription.values.max() ?? retained,
            storageSize: index.storageBytes, subscriptionBacklogs: perSubscription
        )
    }

    func stats(now: Int64) -> StreamStats {
        var stats = StreamStats()
        let rateIn = inMeter.rates(now: now)
        let rateOut = outMeter.rates(now: now)
        stats.msgRateIn = rateIn.messages
        stats.msgThroughputIn = rateIn.bytes
        stats.msgRateOut = rateOut.messages
        stats.msgThroughputOut = rateOut.bytes
        stats.msgInCounter = inMeter.totalCount
        stats.bytesInCounter = inMeter.totalBytes
        stats.msgOutCounter = outMeter.totalCount
        stats.bytesOutCounter = outMeter.totalBytes
        stats.averageMsgSize = inMeter.totalCount == 0 ? 0 : Double(inMeter.totalBytes) / Double(inMeter.totalCount)
        stats.storageSize = index.storageBytes
        stats.publishers = producers.values.sorted { $0.id < $1.id }.map { producer in
            let rate = producer.inMeter.rates(now: now)
            let average = producer.inMeter.totalCount == 0 ? 0 : Double(producer.inMeter.totalBytes) / Double(producer.inMeter.totalCount)
            return PublisherStats(
                producerId: producer.id, producerName: producer.name, address: producer.remoteAddress,
                connectedSince: producer.connectedSince, msgRateIn: rate.messages, msgThroughputIn: rate.bytes,
                averageMsgSize: average
            )
        }
        for (name, subscription) in subscriptions {
            stats.subscriptions[name] = subscriptionStats(subscription, now: now)
        }
        return stats
    }

    private func subscriptionStats(_ subscription: SubscriptionState, now: Int64) -> SubscriptionStats {
        let rate = subscription.outMeter.rates(now: now)
        let consumers = subscription.consumers.map { consumer in
            let consumerRate = consumer.outMeter.rates(now: now)
            let permits = consumer.pullMode ? max(0, consumer.permits) : consumer.window - consumer.inFlight.count
            return ConsumerStats(
                consumerName: consumer.name, address: consumer.remoteAddress, connectedSince: consumer.connectedSince,
                msgRateOut: consumerRate.messages, msgThroughputOut: consumerRate.bytes,
                unackedMessages: consumer.inFlight.count, availablePermits: permits
            )
        }
        return SubscriptionStats(
            type: subscription.type, msgBacklog: subscription.backlog(in: index),
            unackedMessages: subscription.outstanding.count, msgRateOut: rate.messages, msgThroughputOut: rate.bytes,
            msgRateRedeliver: subscription.redeliverMeter.rates(now: now).messages, consumers: consumers
        )
    }
}
