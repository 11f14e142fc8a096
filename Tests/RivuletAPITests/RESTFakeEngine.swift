import RivuletCore
import Synchronization

/// An in-memory `StreamEngine` for REST tests: streams, subscriptions, stored payloads and the last calls made.
final class RESTFakeEngine: StreamEngine {
    struct State {
        var streams: [StreamAddress: Int64] = [:]
        var subscriptions: [StreamAddress: [String]] = [:]
        var payloads: [StreamAddress: [[UInt8]]] = [:]
        var ttl: [String: Int] = [:]
        /// Streams with connected clients: a delete without force fails on them.
        var busyStreams: Set<StreamAddress> = []
        /// Subscriptions with consumers attached.
        var busySubscriptions: Set<String> = []
        /// Publish completions held back until `completeHeldPublishes`.
        var holdPublishes = false
        var heldPublishes: [@Sendable () -> Void] = []
        var calls: [String] = []
        var stats = StreamStats()
        /// Thrown by `stats` when set.
        var failure: EngineError?
    }

    /// Guards everything the fake stores.
    let state = Mutex(State())

    func createStream(_ address: StreamAddress) throws(EngineError) {
        try state.withLock { (state: inout State) throws(EngineError) in
            guard state.streams[address] == nil else { throw .streamExists("stream '\(address.topic)' already exists") }
            state.streams[address] = 1_700_000_000_000 + Int64(state.streams.count)
            state.calls.append("create \(address)")
        }
    }

    func deleteStream(_ address: StreamAddress, force: Bool) throws(EngineError) {
        try state.withLock { (state: inout State) throws(EngineError) in
            guard state.streams[address] != nil else { throw .streamNotFound("stream '\(address.topic)' not found") }
            if !force && state.busyStreams.contains(address) {
                throw .streamHasClients("stream '\(address.topic)' has connected clients")
            }
            state.streams[address] = nil
            state.subscriptions[address] = nil
            state.calls.append("delete \(address) force=\(force)")
        }
    }

    func streamExists(_ address: StreamAddress) -> Bool { state.withLock { $0.streams[address] != nil } }

    func listStreams(tenant: String, fabric: String, scope: StreamScope?) -> [StreamInfo] {
        state.withLock { state in
            state.streams.filter { address, _ in
                address.tenant == tenant && address.fabric == fabric && (scope == nil || address.scope == scope)
            }.map { StreamInfo(address: $0.key, createdAt: $0.value) }
        }
    }

    func publish(_ address: StreamAddress, _ request: PublishRequest,
                 completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void) {
        let held: Bool = state.withLock { state in
            guard state.streams[address] != nil else { return false }
            state.payloads[address, default: []].append(request.payload)
            let sequence = UInt64(state.payloads[address]!.count)
            if state.holdPublishes {
                state.heldPublishes.append { completion(.success(MessageID(streamId: 1, sequence: sequence))) }
                return true
            }
            return false
        }
        guard !held else { return }
        if streamExists(address) {
            completion(.success(MessageID(streamId: 1, sequence: 0)))
        } else {
            completion(.failure(.streamNotFound("stream '\(address.topic)' not found")))
        }
    }

    func completeHeldPublishes() {
        let held = state.withLock { state in
            defer { state.heldPublishes = [] }
            return state.heldPublishes
        }
        for completion in held { completion() }
    }

    func openProducer(_ address: StreamAddress, name: String?, remoteAddress: String,
                      createIfMissing: Bool) throws(EngineError) -> any ProducerHandle {
        throw .unavailable("the REST fake has no producers")
    }

    func subscribe(_ address: StreamAddress, options: ConsumerOptions, remoteAddress: String,
                   createIfMissing: Bool, sink: any DeliverySink) throws(EngineError) -> any ConsumerHandle {
        throw .unavailable("the REST fake has no consumers")
    }

    func openReader(_ address: StreamAddress, start: ReaderStart, receiverQueueSize: Int,
                    sink: any DeliverySink) throws(EngineError) -> any ReaderHandle {
        throw .unavailable("the REST fake has no readers")
    }

    func stats(_ address: StreamAddress) throws(EngineError) -> StreamStats {
        try requireStream(address)
        if let failure = state.withLock({ $0.failure }) { throw failure }
        return state.withLock { $0.stats }
    }

    func backlog(_ address: StreamAddress) throws(EngineError) -> StreamBacklog {
        try requireStream(address)
        return state.withLock { state in
            let count = state.payloads[address]?.count ?? 0
            let subscriptions = state.subscriptions[address] ?? []
            return StreamBacklog(totalMessages: count, messageBacklog: count, storageSize: count * 10,
                                 subscriptionBacklogs: Dictionary(uniqueKeysWithValues: subscriptions.map { ($0, count) }))
        }
    }

    func subscriptions(_ address: StreamAddress) throws(EngineError) -> [String] {
        try requireStream(address)
        return state.withLock { $0.subscriptions[address] ?? [] }
    }

    func deleteSubscription(_ address: StreamAddress, subscription: String) throws(EngineError) {
        try requireStream(address)
        try state.withLock { (state: inout State) throws(EngineError) in
            guard state.subscriptions[address]?.contains(subscription) == true else {
                throw .subscriptionNotFound("subscription '\(subscription)' not found")
            }
            guard !state.busySubscriptions.contains(subscription) else {
                throw .subscriptionHasConsumers("subscription '\(subscription)' has consumers")
            }
            state.subscriptions[address]?.removeAll { $0 == subscription }
        }
    }

    func unsubscribeEverywhere(tenant: String, fabric: String, scope: StreamScope?, subscription: String) throws(EngineError) {
        state.withLock { state in
            state.calls.append("unsubscribe \(tenant)/\(fabric) scope=\(scope?.rawValue ?? "both") \(subscription)")
            for address in state.subscriptions.keys where scope == nil || address.scope == scope {
                state.subscriptions[address]?.removeAll { $0 == subscription }
            }
        }
    }

    func clearBacklog(tenant: String, fabric: String, scope: StreamScope?, subscription: String?) throws(EngineError) {
        state.withLock { state in
            state.calls.append("clear \(tenant)/\(fabric) scope=\(scope?.rawValue ?? "both") \(subscription ?? "*")")
        }
    }

    func messageTTL(tenant: String, fabric: String) -> Int {
        state.withLock { $0.ttl["\(tenant)/\(fabric)"] ?? 259_200 }
    }

    func setMessageTTL(tenant: String, fabric: String, seconds: Int) throws(EngineError) {
        state.withLock { $0.ttl["\(tenant)/\(fabric)"] = seconds }
    }

    func expireMessages(_ address: StreamAddress, olderThanSeconds seconds: Int) throws(EngineError) {
        try requireStream(address)
        state.withLock { $0.calls.append("expire \(address) \(seconds)") }
    }

    func shutdown() {}

    func addSubscription(_ name: String, to address: StreamAddress) {
        state.withLock { $0.subscriptions[address, default: []].append(name) }
    }

    var calls: [String] { state.withLock { $0.calls } }

    private func requireStream(_ address: StreamAddress) throws(EngineError) {
        guard streamExists(address) else { throw .streamNotFound("stream '\(address.topic)' not found") }
    }
}
