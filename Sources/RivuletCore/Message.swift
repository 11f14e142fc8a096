/// What a producer hands to the engine: the payload and its optional metadata.
public struct PublishRequest: Sendable {
    public var payload: [UInt8]
    public var key: String?
    /// User properties in the order the producer sent them.
    public var properties: [(String, String)]
    /// Event time in epoch milliseconds; 0 when the producer gave none.
    public var eventTime: Int64
    /// Earliest delivery time in epoch milliseconds; 0 delivers at once.
    public var deliverAt: Int64
    public var producerName: String?

    public init(
        payload: [UInt8], key: String? = nil, properties: [(String, String)] = [],
        eventTime: Int64 = 0, deliverAt: Int64 = 0, producerName: String? = nil
    ) {
        self.payload = payload
        self.key = key
        self.properties = properties
        self.eventTime = eventTime
        self.deliverAt = deliverAt
        self.producerName = producerName
    }
}

/// A message as stored: immutable once its publish was acknowledged.
public struct StoredMessage: Sendable {
    public var id: MessageID
    /// Publish time in epoch milliseconds, set by the server.
    public var publishTime: Int64
    public var eventTime: Int64
    public var deliverAt: Int64
    public var key: String?
    public var properties: [(String, String)]
    public var payload: [UInt8]
    public var producerName: String?

    public init(
        id: MessageID, publishTime: Int64, eventTime: Int64 = 0, deliverAt: Int64 = 0, key: String? = nil,
        properties: [(String, String)] = [], payload: [UInt8], producerName: String? = nil
    ) {
        self.id = id
        self.publishTime = publishTime
        self.eventTime = eventTime
        self.deliverAt = deliverAt
        self.key = key
        self.properties = properties
        self.payload = payload
        self.producerName = producerName
    }
}

/// One message handed to a consumer or reader.
public struct Delivery: Sendable {
    public var message: StoredMessage
    /// How many times this message was delivered to this subscription before.
    public var redeliveryCount: Int

    public init(message: StoredMessage, redeliveryCount: Int) {
        self.message = message
        self.redeliveryCount = redeliveryCount
    }
}
