import RivuletCore
import RivuletHTTP

/// Producer settings from the handshake query. Only `producerName` changes what the engine does.
/// The others are validated as Pulsar validates them, so a client with a bad value learns it at the handshake.
public struct ProducerSettings: Sendable, Equatable {
    public var producerName: String?
    // NOTE: sendTimeoutMillis and maxPendingMessages are validated but not enforced; the engine bounds publishes.
    public var sendTimeoutMillis: Int = 30_000
    public var initialSequenceId: Int64 = -1
    public var batchingEnabled = false
    public var batchingMaxMessages = 1000
    public var maxPendingMessages = 1000
    public var batchingMaxPublishDelay = 1
    public var messageRoutingMode = "SinglePartition"
    public var hashingScheme = "JavaStringHash"
    public var compressionType = "NONE"

    public init() {}
}

/// Reader settings from the handshake query.
public struct ReaderSettings: Sendable, Equatable {
    /// `latest` when the query names no `messageId`.
    public var start: ReaderStart = .latest
    public var receiverQueueSize = 1000
    public var readerName: String?

    public init() {}
}

/// Reads and validates handshake query parameters.
///
/// Only the first value of a repeated parameter counts and unknown parameters are ignored. Enum values match
/// case-insensitively and booleans accept `true`/`false` in any case and `1`/`0`. Every failure is a 400 whose
/// message starts with "Invalid query params:", as Pulsar's.
public struct WebSocketQuery: Sendable {
    private let items: [(name: String, value: String)]

    public init(_ request: HTTPRequest) {
        self.items = request.queryItems
    }

    public init(items: [(name: String, value: String)]) {
        self.items = items
    }

    /// Returns the first value of `name`.
    public func value(_ name: String) -> String? {
        items.first { $0.name == name }?.value
    }

    public func producerSettings() throws(APIError) -> ProducerSettings {
        var settings = ProducerSettings()
        settings.producerName = nonEmpty("producerName")
        settings.sendTimeoutMillis = try integer("sendTimeoutMillis", minimum: 0) ?? settings.sendTimeoutMillis
        settings.initialSequenceId = try long("initialSequenceId") ?? settings.initialSequenceId
        settings.batchingEnabled = try bool("batchingEnabled") ?? settings.batchingEnabled
        settings.batchingMaxMessages = try integer("batchingMaxMessages", minimum: 0) ?? settings.batchingMaxMessages
        settings.maxPendingMessages = try integer("maxPendingMessages", minimum: 0) ?? settings.maxPendingMessages
        settings.batchingMaxPublishDelay = try integer("batchingMaxPublishDelay", minimum: 0) ?? settings.batchingMaxPublishDelay
        settings.messageRoutingMode = try choice("messageRoutingMode", ["SinglePartition", "RoundRobinPartition", "CustomPartition"])
            ?? settings.messageRoutingMode
        settings.hashingScheme = try choice("hashingScheme", ["JavaStringHash", "Murmur3_32Hash"]) ?? settings.hashingScheme
        // Payloads on the socket stay plain base64 whatever the compression, so the value only needs to be valid.
        settings.compressionType = try choice("compressionType", ["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"]) ?? settings.compressionType
        return settings
    }

    /// Consumer options for `subscription`; `receiverQueueSize` is capped at `maxReceiverQueueSize`.
    public func consumerOptions(subscription: String, maxReceiverQueueSize: Int) throws(APIError) -> ConsumerOptions {
        var options = ConsumerOptions(subscription: subscription)
        if let text = value("subscriptionType") {
            guard let type = SubscriptionType(parsing: text) else {
                throw invalid("subscriptionType '\(text)' is not Exclusive, Shared, Failover or Key_Shared")
            }
            options.type = type
        }
        if let position = try choice("subscriptionInitialPosition", ["Earliest", "Latest"]) {
            options.initialPosition = position == "Latest" ? .latest : .earliest
        }
        // NOTE: NonDurable is accepted but the subscription is kept as a durable one.
        _ = try choice("subscriptionMode", ["Durable", "NonDurable"])
        if let size = try integer("receiverQueueSize", minimum: 0) {
            options.receiverQueueSize = min(size, maxReceiverQueueSize)
        }

        options.consumerName = nonEmpty("consumerName")
        options.priorityLevel = try integer("priorityLevel", minimum: 0) ?? options.priorityLevel
        if let millis = try integer("ackTimeoutMillis", minimum: 0), millis > 0 {
            guard millis >= 1000 else { throw invalid("ackTimeoutMillis \(millis) is too small: use 0 (off) or at least 1000") }
            options.ackTimeout = .milliseconds(millis)
        }
        if let millis = try integer("negativeAckRedeliveryDelay", minimum: 0) {
            options.negativeAckRedeliveryDelay = .milliseconds(millis)
        }

        if let count = try integer("maxRedeliverCount", minimum: 0) {
            guard count > 0 else { throw invalid("maxRedeliverCount must be greater than 0") }
            options.maxRedeliverCount = count
        }
        if let topic = nonEmpty("deadLetterTopic") {
            guard options.maxRedeliverCount != nil else {
                throw invalid("deadLetterTopic '\(topic)' needs maxRedeliverCount greater than 0")
            }
            options.deadLetterTopic = topic
        }
        options.pullMode = try bool("pullMode") ?? options.pullMode
        return options
    }

    public func readerSettings(maxReceiverQueueSize: Int) throws(APIError) -> ReaderSettings {
        var settings = ReaderSettings()
        if let text = value("messageId") {
            switch text.lowercased() {
            case "earliest": settings.start = .earliest
            case "latest": settings.start = .latest
            default:
                guard let id = MessageID(encoded: text) else {
                    throw invalid("messageId '\(text)' is not earliest, latest or a base64 message id (percent-encode '+' and '/')")
                }
                settings.start = .after(id)
            }
        }
        if let size = try integer("receiverQueueSize", minimum: 0) {
            settings.receiverQueueSize = min(size, maxReceiverQueueSize)
        }
        settings.readerName = nonEmpty("readerName")
        return settings
    }

    private func nonEmpty(_ name: String) -> String? {
        guard let text = value(name), !text.isEmpty else { return nil }
        return text
    }

    /// Parses a Java `int`: an optional sign and decimal digits, within 32 bits.
    private func integer(_ name: String, minimum: Int) throws(APIError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Int32(text.hasPrefix("+") ? String(text.dropFirst()) : text) else {
            throw invalid("\(name) '\(text)' is not an integer")
        }
        guard Int(number) >= minimum else { throw invalid("\(name) \(number) is negative") }
        return Int(number)
    }

    private func long(_ name: String) throws(APIError) -> Int64? {
        guard let text = value(name) else { return nil }
        guard let number = Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text) else {
            throw invalid("\(name) '\(text)' is not an integer")
        }
        return number
    }

    private func bool(_ name: String) throws(APIError) -> Bool? {
        guard let text = value(name) else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw invalid("\(name) '\(text)' is not true, false, 1 or 0")
        }
    }

    /// Matches one of `allowed` ignoring case and returns its canonical spelling.
    private func choice(_ name: String, _ allowed: [String]) throws(APIError) -> String? {
        guard let text = value(name) else { return nil }
        guard let match = allowed.first(where: { $0.lowercased() == text.lowercased() }) else {
            throw invalid("\(name) '\(text)' is not one of \(allowed.joined(separator: ", "))")
        }
        return match
    }

    private func invalid(_ detail: String) -> APIError {
        APIError.badParameter("Invalid query params: \(detail)")
    }
}
