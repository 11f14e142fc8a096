import RivuletCore

/// Side effects decided under a stream lock and performed by the caller after releasing every engine lock:
/// producer completions first, then sink deliveries, then persistence of queued cursor changes.
struct StreamEffects: Sendable {
    var completions: [@Sendable () -> Void] = []
    var outboxes: [SinkOutbox] = []
    /// Streams whose queued cursor changes should be appended to the log.
    var cursorStreams: [StreamCore] = []
    /// Messages to copy to a dead letter stream and then acknowledge.
    var deadLetters: [DeadLetter] = []

    var isEmpty: Bool { completions.isEmpty && outboxes.isEmpty && cursorStreams.isEmpty && deadLetters.isEmpty }

    mutating func merge(_ other: StreamEffects) {
        completions += other.completions
        outboxes += other.outboxes
        cursorStreams += other.cursorStreams
        deadLetters += other.deadLetters
    }

    mutating func drain(_ outbox: SinkOutbox) {
        if !outboxes.contains(where: { $0 === outbox }) { outboxes.append(outbox) }
    }
}

/// A message that exceeded its subscription's redelivery limit.
struct DeadLetter: Sendable {
    var message: StoredMessage
    var subscription: String
    var policy: DeadLetterPolicy
}
