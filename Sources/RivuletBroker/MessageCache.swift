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
    var isOver: Bool { usedBytes > limitBytes }

    func add(_ bytes: Int) { _ = used.wrappingAdd(bytes, ordering: .relaxed) }
    func remove(_ bytes: Int) { _ = used.wrappingSubtract(bytes, ordering: .relaxed) }
}

/// One stream's cached message bodies, evicted in the order they were cached (oldest first) while the
/// engine-wide budget is exceeded. Guarded by the stream lock, like the rest of `StreamState`.
struct MessageCache {
    private struct Cached {
        var message: StoredMessage
        var bytes: Int
    }

    let budget: MessageCacheBudget
    private var bodies: [UInt64: Cached] = [:]
    /// Sequences in the order they were cached; entries already removed are skipped when evicting.
    private var order: [UInt64] = []
    private var head = 0
    private(set) var bytes = 0

    init(budget: MessageCacheBudget) {
        self.budget = budget
    }

    var count: Int { bodies.count }

    subscript(sequence: UInt64) -> StoredMessage? { bodies[sequence]?.message }

    mutating func insert(_ message: StoredMessage, bytes size: Int) {
        let sequence = message.id.sequence
        guard bodies[sequence] == nil else { return }
        bodies[sequence] = Cached(message: message, bytes: size)
        order.append(sequence)
        bytes += size
        budget.add(size)
    }

    mutating func remove(_ sequence: UInt64) {
        guard let removed = bodies.removeValue(forKey: sequence) else { return }
        bytes -= removed.bytes
        budget.remove(removed.bytes)
        // Removal by acknowledgement leaves the sequence in `order`; drop such leftovers once they dominate.
        if order.count - head > 2 * bodies.count + 1024 {
            order = order[head...].filter { bodies[$0] != nil }
            head = 0
        }
    }

    mutating func removeAll() {
        budget.remove(bytes)
        bodies.removeAll()
        order.removeAll()
        head = 0
        bytes = 0
    }

    /// Evicts this stream's oldest bodies while the engine-wide budget is exceeded. Returns true when the
    /// budget is still exceeded with this cache empty, so other streams must give up bodies.
    mutating func enforceBudget() -> Bool {
        while budget.isOver, head < order.count {
            let sequence = order[head]
            head += 1
            guard let evicted = bodies.removeValue(forKey: sequence) else { continue }
            bytes -= evicted.bytes
            budget.remove(evicted.bytes)
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return budget.isOver && bodies.isEmpty
    }
}

/// Bodies to read from the log for one stream, then dispatch.
struct MessageFetch: Sendable {
    var core: StreamCore
    var entries: [(sequence: UInt64, position: LogPosition)]
}
