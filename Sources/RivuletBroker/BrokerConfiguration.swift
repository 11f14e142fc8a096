import RivuletCore

/// Limits and intervals of the embedded engine; every default is set in `init`.
public struct BrokerConfiguration: Sendable {
    /// Message time-to-live of a fabric until `setMessageTTL` changes it.
    public var defaultMessageTTL: Duration
    /// Upper bound of a consumer's or reader's `receiverQueueSize`.
    public var maxReceiverQueueSize: Int
    /// Largest payload a publish may carry.
    public var maxPayloadBytes: Int
    /// Log growth (in the log's position units: bytes for files, records for `MemoryLog`) after which the
    /// engine writes a checkpoint.
    public var checkpointIntervalBytes: UInt64
    /// How often the engine drops messages whose TTL passed.
    public var retentionCheckInterval: Duration
    /// Producer name prefix used when a producer gives none.
    public var generatedProducerNamePrefix: String
    /// Streams one tenant may have in one fabric, local and global together.
    public var maxStreamsPerFabric: Int
    /// Subscriptions one stream may have; a consumer naming a new subscription beyond it is rejected.
    public var maxSubscriptionsPerStream: Int
    /// Bytes of message bodies all streams together keep in memory for dispatch (256 MiB by default).
    /// Recent messages are cached; beyond the budget the oldest cached bodies are evicted and read back from
    /// the log when a consumer or reader reaches them. Retained messages cost an index entry each regardless.
    public var messageCacheBytes: Int
    /// Payload bytes one dispatch pass may hand a single consumer or reader. The message that passes it is
    /// the last one; then the consumer is paused, as `setWritable(false)` does, until its sink calls
    /// `setWritable(true)`. nil never pauses. Set it only for sinks that report writability and report a
    /// batch larger than this as congestion: the WebSocket transport does when this equals its outbound
    /// high-water mark, because the frames of such a batch are larger than their payloads.
    public var maxDispatchBurstBytes: Int?

    public init(
        defaultMessageTTL: Duration = .seconds(3 * 24 * 3600),
        maxReceiverQueueSize: Int = 1000,
        maxPayloadBytes: Int = 5 * 1024 * 1024,
        checkpointIntervalBytes: UInt64 = 64 * 1024 * 1024,
        retentionCheckInterval: Duration = .seconds(60),
        generatedProducerNamePrefix: String = "rivulet",
        maxStreamsPerFabric: Int = 10_000,
        maxSubscriptionsPerStream: Int = 1_000,
        messageCacheBytes: Int = 256 * 1024 * 1024,
        maxDispatchBurstBytes: Int? = nil
    ) {
        self.defaultMessageTTL = defaultMessageTTL
        self.maxReceiverQueueSize = maxReceiverQueueSize
        self.maxPayloadBytes = maxPayloadBytes
        self.checkpointIntervalBytes = checkpointIntervalBytes
        self.retentionCheckInterval = retentionCheckInterval
        self.generatedProducerNamePrefix = generatedProducerNamePrefix
        self.maxStreamsPerFabric = maxStreamsPerFabric
        self.maxSubscriptionsPerStream = maxSubscriptionsPerStream
        self.messageCacheBytes = messageCacheBytes
        self.maxDispatchBurstBytes = maxDispatchBurstBytes
    }

    /// Returns the window for a requested `receiverQueueSize`, capped at the maximum, with 0 meaning 1.
    func effectiveWindow(_ requested: Int) -> Int {
        max(1, min(requested, maxReceiverQueueSize))
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var wholeMilliseconds: Int64 {
        let parts = components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }
}
