import Synchronization

/// Subscription types of Pulsar, matched case-insensitively on input.
public enum SubscriptionType: String, Sendable, Codable, CaseIterable {
    case exclusive = "Exclusive"
    case shared = "Shared"
    case failover = "Failover"
    case keyShared = "Key_Shared"

    /// Parses `Exclusive`, `shared`, `KEY_SHARED`, ... case-insensitively.
    public init?(parsing text: String) {
        guard let match = SubscriptionType.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            return nil
        }
        self = match
    }
}

/// The start position of a new subscription. Existing subscriptions keep their cursor.
public enum InitialPosition: String, Sendable, Codable {
    case earliest = "Earliest"
    case latest = "Latest"
}

/// The start position of a reader.
public enum ReaderStart: Sendable, Equatable {
    case earliest
    case latest
    /// The first message after this id (exclusive).
    case after(MessageID)
}

/// Settings of one consumer connection; defaults follow Pulsar's WebSocket API except the start position.
public struct ConsumerOptions: Sendable {
    public var subscription: String
    public var type: SubscriptionType = .exclusive
    /// Default `.earliest`: a new subscription receives messages published before it existed.
    public var initialPosition: InitialPosition = .earliest
    /// Distinct unacknowledged messages in flight, 0...1000; 0 means one at a time.
    public var receiverQueueSize: Int = 1000
    public var consumerName: String?
    public var priorityLevel: Int = 0
    /// Redeliver what stays unacknowledged this long; nil turns it off.
    public var ackTimeout: Duration?
    public var negativeAckRedeliveryDelay: Duration = .seconds(60)
    public var maxRedeliverCount: Int?
    public var deadLetterTopic: String?
    /// Send nothing until the client grants permits.
    public var pullMode: Bool = false

    public init(subscription: String) {
        self.subscription = subscription
    }
}

/// Receives deliveries for one consumer or reader. Called from the engine's threads, never concurrently for one sink.
public protocol DeliverySink: AnyObject, Sendable {
    /// Hands over messages in stream order for this consumer; the sink must not block.
    func deliver(_ deliveries: [Delivery])
    /// Reports that the engine ended this consumer or reader because its stream or subscription was deleted.
    func engineClosed(reason: String)
}

/// A live consumer attached to a subscription.
public protocol ConsumerHandle: AnyObject, Sendable {
    var subscription: String { get }
    func acknowledge(_ id: MessageID)
    /// Acknowledges every id in `ids`, as `acknowledge(_:)` does for each one, in one engine update where the
    /// engine supports it.
    func acknowledge(_ ids: [MessageID])
    /// Acknowledges `id` and everything before it; throws `notAllowed` on Shared and Key_Shared.
    func acknowledgeCumulative(_ id: MessageID) throws(EngineError)
    func negativeAcknowledge(_ id: MessageID)
    /// Grants `count` more messages in pull mode; permits add up.
    func permit(_ count: Int)
    /// Deletes the subscription; throws when other consumers are attached.
    func unsubscribe() throws(EngineError)
    /// Detaches the consumer; its unacknowledged messages go back to the subscription.
    func close()
    /// Pauses (false) or resumes (true) deliveries to this consumer, for a sink whose client reads slower
    /// than messages arrive. A paused consumer gets no new deliveries, as if it had no credit. Its
    /// unacknowledged messages stay with it, and its ack timeout still applies. A consumer starts writable.
    func setWritable(_ writable: Bool)
}

extension ConsumerHandle {
    /// Acknowledges the ids one at a time; engines that can apply a batch at once override this.
    public func acknowledge(_ ids: [MessageID]) {
        for id in ids { acknowledge(id) }
    }

    /// Engines without flow control ignore it; their sinks' queues are bounded by the receive window only.
    public func setWritable(_ writable: Bool) {}
}

/// A live reader: a non-durable cursor that changes no subscription.
public protocol ReaderHandle: AnyObject, Sendable {
    /// Frees one slot of the reader's window.
    func acknowledge(_ id: MessageID)
    func close()
    /// Pauses (false) or resumes (true) deliveries to this reader, as `ConsumerHandle.setWritable(_:)` does.
    func setWritable(_ writable: Bool)
}

extension ReaderHandle {
    /// Engines without flow control ignore it; their sinks' queues are bounded by the receive window only.
    public func setWritable(_ writable: Bool) {}
}

/// A live producer connection.
public protocol ProducerHandle: AnyObject, Sendable {
    var producerName: String { get }
    /// Appends the message; `completion` runs once the durability policy is met, on any thread.
    func publish(_ request: PublishRequest, completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void)
    /// Appends the messages in order, as one batch where the engine can. `completion` runs once, on any thread,
    /// after the durability policy is met for all of them, with one result per request in request order.
    func publish(_ requests: [PublishRequest], completion: @escaping @Sendable ([Result<MessageID, EngineError>]) -> Void)
    func close()
    /// Registers `handler` to run once, with the reason, when the engine ends the producer because its stream
    /// was deleted. If that already happened, it runs at once. After `close()` it never runs.
    func onEngineClose(_ handler: @escaping @Sendable (String) -> Void)
}

extension ProducerHandle {
    /// Engines that never end producers themselves need not implement it.
    public func onEngineClose(_ handler: @escaping @Sendable (String) -> Void) {}

    /// Publishes the requests one by one and calls `completion` when the last of them completed. Engines that
    /// can append a batch at once override this.
    public func publish(
        _ requests: [PublishRequest], completion: @escaping @Sendable ([Result<MessageID, EngineError>]) -> Void
    ) {
        guard !requests.isEmpty else {
            completion([])
            return
        }
        let collected = Mutex<(results: [Result<MessageID, EngineError>?], remaining: Int)>(
            (Array(repeating: nil, count: requests.count), requests.count))
        for (index, request) in requests.enumerated() {
            publish(request) { result in
                let finished = collected.withLock { state -> [Result<MessageID, EngineError>]? in
                    state.results[index] = result
                    state.remaining -= 1
                    return state.remaining == 0 ? state.results.map { $0! } : nil
                }
                if let finished { completion(finished) }
            }
        }
    }
}

/// A stream as listed by the engine.
public struct StreamInfo: Sendable {
    public var address: StreamAddress
    public var createdAt: Int64

    public init(address: StreamAddress, createdAt: Int64) {
        self.address = address
        self.createdAt = createdAt
    }
}

/// Per-publisher figures, with Pulsar's field meaning.
public struct PublisherStats: Sendable {
    public var producerId: UInt64
    public var producerName: String
    public var address: String
    public var connectedSince: Int64
    public var msgRateIn: Double
    public var msgThroughputIn: Double
    public var averageMsgSize: Double

    public init(producerId: UInt64, producerName: String, address: String, connectedSince: Int64,
                msgRateIn: Double, msgThroughputIn: Double, averageMsgSize: Double) {
        self.producerId = producerId
        self.producerName = producerName
        self.address = address
        self.connectedSince = connectedSince
        self.msgRateIn = msgRateIn
        self.msgThroughputIn = msgThroughputIn
        self.averageMsgSize = averageMsgSize
    }
}

public struct ConsumerStats: Sendable {
    public var consumerName: String
    public var address: String
    public var connectedSince: Int64
    public var msgRateOut: Double
    public var msgThroughputOut: Double
    public var unackedMessages: Int
    public var availablePermits: Int

    public init(consumerName: String, address: String, connectedSince: Int64, msgRateOut: Double,
                msgThroughputOut: Double, unackedMessages: Int, availablePermits: Int) {
        self.consumerName = consumerName
        self.address = address
        self.connectedSince = connectedSince
        self.msgRateOut = msgRateOut
        self.msgThroughputOut = msgThroughputOut
        self.unackedMessages = unackedMessages
        self.availablePermits = availablePermits
    }
}

public struct SubscriptionStats: Sendable {
    public var type: SubscriptionType
    public var msgBacklog: Int
    public var unackedMessages: Int
    public var msgRateOut: Double
    public var msgThroughputOut: Double
    public var msgRateRedeliver: Double
    public var consumers: [ConsumerStats]

    public init(type: SubscriptionType, msgBacklog: Int, unackedMessages: Int, msgRateOut: Double,
                msgThroughputOut: Double, msgRateRedeliver: Double, consumers: [ConsumerStats]) {
        self.type = type
        self.msgBacklog = msgBacklog
        self.unackedMessages = unackedMessages
        self.msgRateOut = msgRateOut
        self.msgThroughputOut = msgThroughputOut
        self.msgRateRedeliver = msgRateRedeliver
        self.consumers = consumers
    }
}

/// Pulsar `TopicStats` figures for one stream. Rates are per second over the last few seconds.
public struct StreamStats: Sendable {
    public var msgRateIn: Double = 0
    public var msgThroughputIn: Double = 0
    public var msgRateOut: Double = 0
    public var msgThroughputOut: Double = 0
    public var averageMsgSize: Double = 0
    public var storageSize: Int = 0
    public var msgInCounter: Int = 0
    public var bytesInCounter: Int = 0
    public var msgOutCounter: Int = 0
    public var bytesOutCounter: Int = 0
    public var publishers: [PublisherStats] = []
    public var subscriptions: [String: SubscriptionStats] = [:]

    public init() {}
}

/// Backlog figures for one stream.
public struct StreamBacklog: Sendable {
    /// Messages retained in the stream.
    public var totalMessages: Int
    /// Largest backlog among the subscriptions; the retained count when there is no subscription.
    public var messageBacklog: Int
    public var storageSize: Int
    /// Backlog per subscription name.
    public var subscriptionBacklogs: [String: Int]

    public init(totalMessages: Int, messageBacklog: Int, storageSize: Int, subscriptionBacklogs: [String: Int]) {
        self.totalMessages = totalMessages
        self.messageBacklog = messageBacklog
        self.storageSize = storageSize
        self.subscriptionBacklogs = subscriptionBacklogs
    }
}

/// The boundary between the GDN API layer and whatever stores and dispatches messages.
///
/// The embedded engine (RivuletBroker on RivuletStorage) implements it; a clustered engine can later implement it
/// without changes to the API layer. Every method may be called from any thread. Methods that name a stream
/// throw `streamNotFound` when it does not exist, unless their documentation states that they create it.
public protocol StreamEngine: AnyObject, Sendable {
    /// Creates a stream; throws `streamExists` when it exists.
    func createStream(_ address: StreamAddress) throws(EngineError)
    /// Deletes a stream with its messages and subscriptions. Without `force`, throws `streamHasClients`
    /// when producers or consumers are connected; with it, ends them (their sinks get `engineClosed`).
    func deleteStream(_ address: StreamAddress, force: Bool) throws(EngineError)
    func streamExists(_ address: StreamAddress) -> Bool
    /// Streams of one tenant and fabric; `scope` nil lists both scopes.
    func listStreams(tenant: String, fabric: String, scope: StreamScope?) -> [StreamInfo]

    /// Publishes one message without a producer connection (REST publish).
    func publish(_ address: StreamAddress, _ request: PublishRequest,
                 completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void)
    /// Attaches a producer. `createIfMissing` creates the stream first. Throws `producerBusy` on a duplicate name.
    func openProducer(_ address: StreamAddress, name: String?, remoteAddress: String,
                      createIfMissing: Bool) throws(EngineError) -> any ProducerHandle
    /// Attaches a consumer to a subscription, creating the subscription (and, with `createIfMissing`, the stream).
    func subscribe(_ address: StreamAddress, options: ConsumerOptions, remoteAddress: String,
                   createIfMissing: Bool, sink: any DeliverySink) throws(EngineError) -> any ConsumerHandle
    /// Attaches a reader. Readers never create streams.
    func openReader(_ address: StreamAddress, start: ReaderStart, receiverQueueSize: Int,
                    sink: any DeliverySink) throws(EngineError) -> any ReaderHandle

    func stats(_ address: StreamAddress) throws(EngineError) -> StreamStats
    func backlog(_ address: StreamAddress) throws(EngineError) -> StreamBacklog
    func subscriptions(_ address: StreamAddress) throws(EngineError) -> [String]
    /// Deletes one subscription; throws `subscriptionHasConsumers` while consumers are attached.
    func deleteSubscription(_ address: StreamAddress, subscription: String) throws(EngineError)
    /// Deletes the named subscription from every stream of the fabric in `scope` (nil: both scopes).
    func unsubscribeEverywhere(tenant: String, fabric: String, scope: StreamScope?, subscription: String) throws(EngineError)
    /// Marks every message consumed for `subscription` (nil: every subscription) on every stream in `scope`.
    func clearBacklog(tenant: String, fabric: String, scope: StreamScope?, subscription: String?) throws(EngineError)
    /// Message time-to-live of a fabric in seconds.
    func messageTTL(tenant: String, fabric: String) -> Int
    func setMessageTTL(tenant: String, fabric: String, seconds: Int) throws(EngineError)
    /// Marks messages older than `seconds` consumed for every subscription of the stream.
    func expireMessages(_ address: StreamAddress, olderThanSeconds seconds: Int) throws(EngineError)

    /// Stops accepting work and flushes storage.
    func shutdown()
}
