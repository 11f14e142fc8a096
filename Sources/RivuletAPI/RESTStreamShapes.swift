import Foundation
import RivuletCore

/// JSON shapes of stream list records, stats and backlog, with the field names SDKs and Pulsar tools read.
enum RESTStreamShapes {
    /// Returns a list record. `type` is always 4 (pyC8 fails on anything else) and `name` repeats `topic` for the Java SDK.
    static func record(_ stream: StreamInfo) -> RESTJSON {
        let address = stream.address
        let key = address.topic + "_TYPE4"
        return .object([
            ("_key", .string(key)),
            ("_id", .string("_collections/" + key)),
            ("_rev", .string(String(stream.createdAt))),
            ("db", .string(address.fabric)),
            ("local", .bool(address.scope == .local)),
            ("name", .string(address.topic)),
            ("tenant", .string(address.tenant)),
            ("topic", .string(address.topic)),
            ("type", 4),
        ])
    }

    /// Pulsar `TopicStats` field names; `subscriptions` maps each name to its figures.
    static func stats(_ stats: StreamStats) -> RESTJSON {
        .object([
            ("msgRateIn", .double(stats.msgRateIn)),
            ("msgThroughputIn", .double(stats.msgThroughputIn)),
            ("msgRateOut", .double(stats.msgRateOut)),
            ("msgThroughputOut", .double(stats.msgThroughputOut)),
            ("averageMsgSize", .double(stats.averageMsgSize)),
            ("storageSize", .int(stats.storageSize)),
            ("msgInCounter", .int(stats.msgInCounter)),
            ("bytesInCounter", .int(stats.bytesInCounter)),
            ("msgOutCounter", .int(stats.msgOutCounter)),
            ("bytesOutCounter", .int(stats.bytesOutCounter)),
            ("publishers", .array(stats.publishers.map(publisher))),
            ("subscriptions", .object(stats.subscriptions.sorted { $0.key < $1.key }.map { ($0.key, subscription($0.value)) })),
            ("replication", .emptyObject),
        ])
    }

    /// Pulsar's offline topic stats: totals plus one cursor per subscription.
    static func backlog(_ backlog: StreamBacklog, address: StreamAddress, region: String) -> RESTJSON {
        let cursors = backlog.subscriptionBacklogs.sorted { $0.key < $1.key }.map { name, count in
            (name, RESTJSON.object([("cursorBacklog", .int(count)), ("cursorLedgerId", -1)]))
        }
        return .object([
            ("storageSize", .int(backlog.storageSize)),
            ("totalMessages", .int(backlog.totalMessages)),
            ("messageBacklog", .int(backlog.messageBacklog)),
            ("brokerName", .string(region)),
            ("topicName", .string(address.description)),
            ("statGeneratedAt", .int(Int64(Date().timeIntervalSince1970 * 1000))),
            ("cursorDetails", .object(cursors)),
            ("dataLedgerDetails", .array([])),
        ])
    }

    /// Returns who is connected to a stream, in the Java SDK's presence shape. The filter parameters are not applied.
    static func presence(_ stats: StreamStats, address: StreamAddress, createdAt: Int64, region: String) -> RESTJSON {
        let subscriptions = stats.subscriptions.sorted { $0.key < $1.key }
        let consumerCount = subscriptions.reduce(0) { $0 + $1.value.consumers.count }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let regionStats: RESTJSON = .object([
            ("timestamp", .int(now)),
            ("producerCount", .int(stats.publishers.count)),
            ("subscriptionCount", .int(subscriptions.count)),
            ("consumerCount", .int(consumerCount)),
            ("producerNames", .array(stats.publishers.map { .string($0.producerName) })),
            ("subscriptionStats", .array(subscriptions.map { name, subscription in
                .object([
                    ("name", .string(name)),
                    ("consumerCount", .int(subscription.consumers.count)),
                    ("consumerNames", .array(subscription.consumers.map { .string($0.consumerName) })),
                ])
            })),
        ])
        return .object([
            ("_key", .string(address.topic)),
            ("tenant", .string(address.tenant)),
            ("fabric", .string(address.fabric)),
            ("global", .bool(address.scope == .global)),
            ("topicName", .string(address.topic)),
            ("fullTopicName", .string(address.description)),
            ("createdAt", .int(createdAt)),
            ("updatedAt", .int(now)),
            ("producerCount", .int(stats.publishers.count)),
            ("subscriptionCount", .int(subscriptions.count)),
            ("consumerCount", .int(consumerCount)),
            ("regionStats", .object([(region, regionStats)])),
        ])
    }

    private static func publisher(_ publisher: PublisherStats) -> RESTJSON {
        .object([
            ("msgRateIn", .double(publisher.msgRateIn)),
            ("msgThroughputIn", .double(publisher.msgThroughputIn)),
            ("averageMsgSize", .double(publisher.averageMsgSize)),
            ("producerId", .int(Int64(truncatingIfNeeded: publisher.producerId))),
            ("producerName", .string(publisher.producerName)),
            ("metadata", .emptyObject),
            ("address", .string(publisher.address)),
            ("connectedSince", .string(timestamp(publisher.connectedSince))),
            ("clientVersion", ""),
        ])
    }

    private static func subscription(_ subscription: SubscriptionStats) -> RESTJSON {
        .object([
            ("type", .string(subscription.type.rawValue)),
            ("msgBacklog", .int(subscription.msgBacklog)),
            ("unackedMessages", .int(subscription.unackedMessages)),
            ("msgRateOut", .double(subscription.msgRateOut)),
            ("msgThroughputOut", .double(subscription.msgThroughputOut)),
            ("msgRateRedeliver", .double(subscription.msgRateRedeliver)),
            ("consumers", .array(subscription.consumers.map(consumer))),
        ])
    }

    private static func consumer(_ consumer: ConsumerStats) -> RESTJSON {
        .object([
            ("consumerName", .string(consumer.consumerName)),
            ("address", .string(consumer.address)),
            ("connectedSince", .string(timestamp(consumer.connectedSince))),
            ("msgRateOut", .double(consumer.msgRateOut)),
            ("msgThroughputOut", .double(consumer.msgThroughputOut)),
            ("unackedMessages", .int(consumer.unackedMessages)),
            ("availablePermits", .int(consumer.availablePermits)),
        ])
    }

    /// ISO 8601 in UTC with milliseconds, as Pulsar formats `connectedSince`.
    static func timestamp(_ epochMilliseconds: Int64) -> String {
        var seconds = time_t(epochMilliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int32(epochMilliseconds % 1000))
    }
}
