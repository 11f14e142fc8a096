import Dispatch
import Foundation
import RivuletCore
import RivuletStorage
import Synchronization

/// One stream: its fixed identity and its state behind one lock.
final class StreamCore: Sendable {
    let id: UInt64
    let address: StreamAddress
    let createdAt: Int64
    // Guards everything about the stream that changes. Lock order: append gate, catalog, stream state, outbox.
    let state: Mutex<StreamState>

    init(id: UInt64, address: StreamAddress, createdAt: Int64, cacheBudget: MessageCacheBudget) {
        self.id = id
        self.address = address
        self.createdAt = createdAt
        self.state = Mutex(StreamState(streamId: id, cacheBudget: cacheBudget))
    }
}

/// Fabric identity for the per-fabric TTL.
struct FabricKey: Hashable {
    var tenant: String
    var fabric: String
}

/// Streams by address and id, id assignment and fabric TTLs; guarded by `EmbeddedEngine.catalog`.
struct Catalog {
    var streams: [StreamAddress: StreamCore] = [:]
    var streamsById: [UInt64: StreamCore] = [:]
    /// Addresses whose creation record is being appended; the group is left once the stream is in the table.
    var creating: [StreamAddress: DispatchGroup] = [:]
    var nextStreamId: UInt64 = 1
    var ttlSeconds: [FabricKey: Int64] = [:]
    var closed = false

    mutating func insert(_ core: StreamCore) {
        streams[core.address] = core
        streamsById[core.id] = core
        nextStreamId = max(nextStreamId, core.id + 1)
    }

    mutating func remove(_ core: StreamCore) {
        if streams[core.address] === core { streams.removeValue(forKey: core.address) }
        streamsById.removeValue(forKey: core.id)
    }

    func streams(tenant: String, fabric: String, scope: StreamScope?) -> [StreamCore] {
        streams.values
            .filter { $0.address.tenant == tenant && $0.address.fabric == fabric && (scope == nil || $0.address.scope == scope) }
            .sorted { $0.id < $1.id }
    }
}

/// Numbers appends as they are issued and tracks which completions have not run, so a checkpoint can wait
/// until the state contains every record below a log position.
final class InFlightAppends: @unchecked Sendable {
    // NSCondition guards `nextTicket` and `unfinished`; it is never held while calling out.
    private let condition = NSCondition()
    private var nextTicket: UInt64 = 0
    private var unfinished: Set<UInt64> = []

    /// Registers an append; call with the append gate held, just before `append`.
    func begin() -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        nextTicket += 1
        unfinished.insert(nextTicket)
        return nextTicket
    }

    func end(_ ticket: UInt64) {
        condition.lock()
        unfinished.remove(ticket)
        condition.broadcast()
        condition.unlock()
    }

    /// The ticket the next append will get; read with the append gate held.
    var upcomingTicket: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return nextTicket + 1
    }

    /// Blocks until every append with a ticket below `ticket` has completed.
    func waitForCompletion(below ticket: UInt64) {
        condition.lock()
        while unfinished.contains(where: { $0 < ticket }) { condition.wait() }
        condition.unlock()
    }
}

/// Lets a caller block until one append completes, and carries effects back for the caller to perform.
final class AppendWaiter: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    // Guards the outcome set by the completion.
    private let outcome = Mutex<(Result<[LogPosition], StorageError>, StreamEffects)?>(nil)

    func finish(_ result: Result<[LogPosition], StorageError>, effects: StreamEffects = StreamEffects()) {
        outcome.withLock { $0 = (result, effects) }
        semaphore.signal()
    }

    func wait() -> (Result<[LogPosition], StorageError>, StreamEffects) {
        semaphore.wait()
        return outcome.withLock { $0 } ?? (.failure(.closed), StreamEffects())
    }
}

/// Tracks whether an append's completion ran inside the `append` call. Effects of such a completion go back
/// to the caller, who performs them after releasing the append gate.
final class AppendCall: Sendable {
    // Guards whether the append call is still on the stack, and effects deferred meanwhile.
    private let state = Mutex<(inCall: Bool, deferred: StreamEffects)>((true, StreamEffects()))

    /// Returns the effects to perform now, or nil when they were deferred to the caller.
    func deferIfInCall(_ effects: StreamEffects) -> StreamEffects? {
        state.withLock { state in
            guard state.inCall else { return effects }
            state.deferred.merge(effects)
            return nil
        }
    }

    func finish() -> StreamEffects {
        state.withLock { state in
            state.inCall = false
            return state.deferred
        }
    }
}
