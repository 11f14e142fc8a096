import RivuletCore

/// One consumer attached to a subscription, as the stream state machine tracks it.
struct ConsumerState {
    let id: UInt64
    let name: String
    let remoteAddress: String
    let connectedSince: Int64
    let priorityLevel: Int
    /// Distinct unacknowledged messages allowed in flight in push mode.
    let window: Int
    let pullMode: Bool
    let ackTimeoutMilliseconds: Int64?
    let negativeAckDelayMilliseconds: Int64
    let outbox: SinkOutbox
    /// Messages granted by `permit` and not yet sent (pull mode only).
    var permits = 0
    /// Sequence to delivery time (epoch ms) of each message delivered and not yet acknowledged.
    var inFlight: [UInt64: Int64] = [:]
    var outMeter = RateMeter()
    /// Whether dispatch may hand the consumer messages. False from a congestion report of its sink, or a burst
    /// past `maxBurstBytes`, until the sink reports it writable.
    var writable = true
    /// Payload bytes above which one dispatch pass pauses the consumer; `Int.max` never pauses it.
    let maxBurstBytes: Int
    /// Payload bytes handed to the consumer in the current dispatch pass.
    var burstBytes = 0

    var hasCredit: Bool { writable && (pullMode ? permits > 0 : inFlight.count < window) }
}

/// A reader: a non-durable cursor with a window of `window` messages, each acknowledgement freeing one slot.
struct ReaderState {
    let id: UInt64
    var nextSequence: UInt64
    let window: Int
    var inFlightCount = 0
    let outbox: SinkOutbox
    /// Whether dispatch may hand the reader messages. False from a congestion report of its sink, or a burst
    /// past `maxBurstBytes`, until the sink reports it writable.
    var writable = true
    /// Payload bytes above which one dispatch pass pauses the reader; `Int.max` never pauses it.
    let maxBurstBytes: Int
}

/// A producer attached to a stream.
struct ProducerState {
    let id: UInt64
    let name: String
    let remoteAddress: String
    let connectedSince: Int64
    var inMeter = RateMeter()
    /// Runs when a stream deletion ends the producer.
    var engineCloseHandler: (@Sendable (String) -> Void)?
}
