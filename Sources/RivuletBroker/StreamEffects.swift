import RivuletCore
import RivuletStorage

/// Side effects decided under a stream lock and performed by the caller after releasing every engine lock:
/// producer completions first, then sink deliveries, then persistence of queued cursor changes.
struct StreamEffects: Sendable {
    var completions: [@Sendable () -> Void] = []
    var outboxes: [SinkOutbox] = []
    /// Streams whose queued cursor changes should be appended to the log.
    var cursorStreams: [StreamCore] = []
    /// Messages to copy to a dead letter stream and then acknowledge.
    var deadLetters: [DeadLetter] = []
    /// Sequences whose bodies dispatch needed and found evicted; `EmbeddedEngine.mutate` turns them into
    /// `fetches` before releasing the stream lock.
    var missing: [UInt64] = []
    /// Bodies to read from the log on the engine's reader queue, then dispatch.
    var fetches: [MessageFetch] = []
    /// Whether the cache budget is exceeded after a stream emptied its own cache, so others must evict.
    var trimCaches = false

    var isEmpty: Bool {
        completions.isEmpty && outboxes.isEmpty && cursorStreams.isEmpty && deadLetters.isEmpty && fetches.isEmpty
            && !trimCaches
    }

    mutating func merge(_ other: StreamEffects) {
        completions += other.completions
        outboxes += other.outboxes
        cursorStreams += other.cursorStreams
        deadLetters += other.deadLetters
        missing += other.missing
        fetches += other.fetches
        trimCaches = trimCaches || other.trimCaches
    }

    mutating func drain(_ outbox: SinkOutbox) {
        if !outboxes.contains(where: { $0 === outbox }) { outboxes.append(outbox) }
    }
}

/// A message that exceeded its subscription's redelivery limit.
struct DeadLetter: Sendable {
    var id: MessageID
    var position: LogPosition
    /// The body when it was cached; otherwise it is read from `position` before forwarding.
    var message: StoredMessage?
    var subscription: String
    var policy: DeadLetterPolicy
}
