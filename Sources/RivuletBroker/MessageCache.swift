import RivuletCore
import RivuletStorage
import Synchronization

/// The engine-wide byte budget of cached message bodies, shared by the caches of every stream.
final class MessageCacheBudget: Sendable {
    let limitBytes: Int
    // Bytes of bodies cached by all streams; each stream changes it under its own lock.
    private let used = Atomic<Int>(0)

    init(limitBytes: Int) {
        self.limitBytes = max(0, limitBytes)
    }

    var usedBytes: Int { used.load(ordering: .relaxed) }
    /// Bytes a stream keeps when it exceeds the budget itself; the rest comes from the largest caches.
    var streamShareBytes: Int { min(limitBytes / 16, 4 << 20) }
    /// Usage a trim of the largest caches brings the budget down to, leaving room so the next trim is not
    /// needed at the next publish.
    var trimTargetBytes: Int { limitBytes - limitBytes / 8 }
    var isOver: Bool { usedBytes > limitBytes }

    func add(_ bytes: Int) { _ = used.wrappingAdd(bytes, ordering: .relaxed) }
    func remove(_ bytes: Int) { _ = used.wrappingSubtract(bytes, ordering: .relaxed) }
}

/// A cached message body, boxed so an index entry without one costs a single pointer.
final class CachedBody: Sendable {
    let message: StoredMessage

    init(_ message: StoredMessage) {
        self.message = message
    }
}

/// The order in which one stream cached bodies and the bytes they count against the engine-wide budget.
/// The bodies themselves hang off the index entries (see `MessageIndex`), so a cache hit costs no extra lookup.
struct MessageCacheOrder {
    let budget: MessageCacheBudget
    /// Sequences in the order their bodies were cached; sequences whose body is gone are skipped when evicting.
    var sequences: [UInt64] = []
    var head = 0
    var bytes = 0
    var count = 0

    init(budget: MessageCacheBudget) {
        self.budget = budget
    }

    mutating func added(_ sequence: UInt64, bytes size: Int) {
        sequences.append(sequence)
        bytes += size
        count += 1
        budget.add(size)
    }

    mutating func dropped(bytes size: Int) {
        bytes -= size
        count -= 1
        budget.remove(size)
    }

    mutating func reset() {
        budget.remove(bytes)
        sequences.removeAll()
        head = 0
        bytes = 0
        count = 0
    }
}

/// Bodies to read from the log for one stream, then dispatch.
struct MessageFetch: Sendable {
    var core: StreamCore
    var entries: [(sequence: UInt64, position: LogPosition)]
}
