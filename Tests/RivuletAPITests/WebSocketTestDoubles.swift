import RivuletAuth
import RivuletCore
import RivuletHTTP
import Synchronization

@testable import RivuletAPI

/// Records the frames and the close a handler sends.
final class RecordingConnection: WebSocketConnection {
    let id: UInt64 = 7
    let remoteAddress = "127.0.0.1:50000"
    var bufferedBytes: Int { 0 }
    private let state = Mutex<(frames: [String], closes: [(UInt16, String)])>(([], []))

    func sendText(_ utf8: [UInt8]) {
        state.withLock { $0.frames.append(String(decoding: utf8, as: UTF8.self)) }
    }

    func close(code: UInt16, reason: String) {
        state.withLock { $0.closes.append((code, reason)) }
    }

    var frames: [String] { state.withLock { $0.frames } }
    var closes: [(code: UInt16, reason: String)] { state.withLock { $0.closes.map { (code: $0.0, reason: $0.1) } } }
}

/// Records whether a request got a response or an upgrade.
final class RecordingResponder: HTTPResponder {
    private let state = Mutex<(responses: [HTTPResponse], handlers: [any WebSocketHandler])>(([], []))

    func respond(_ response: HTTPResponse) {
        state.withLock { $0.responses.append(response) }
    }

    func upgrade(to handler: any WebSocketHandler, headers: [(String, String)]) {
        state.withLock { $0.handlers.append(handler) }
    }

    var response: HTTPResponse? { state.withLock { $0.responses.first } }
    var handler: (any WebSocketHandler)? { state.withLock { $0.handlers.first } }
    var callCount: Int { state.withLock { $0.responses.count + $0.handlers.count } }
    var bodyText: String { response.map { String(decoding: $0.body, as: UTF8.self) } ?? "" }
}

/// Accepts fixed credentials: header values and one-time passwords map to principals.
final class StubAuthenticator: Authenticating {
    private let headers: [String: Principal]
    private let passwords = Mutex<[String: Principal]>([:])
    private let seen = Mutex<[String]>([])

    init(headers: [String: Principal] = [:], oneTimePasswords: [String: Principal] = [:]) {
        self.headers = headers
        passwords.withLock { $0 = oneTimePasswords }
    }

    func authenticate(authorization: String) -> Principal? {
        seen.withLock { $0.append(authorization) }
        // Schemes match in any case, as the real service does.
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        return headers[parts[0].lowercased() + " " + parts[1]]
    }

    func redeemOneTimePassword(_ otp: String) -> Principal? {
        passwords.withLock { $0.removeValue(forKey: otp) }
    }

    var authorizationValues: [String] { seen.withLock { $0 } }
}

final class StubProducer: ProducerHandle {
    let producerName: String
    private let state = Mutex<(requests: [PublishRequest], completions: [@Sendable (Result<MessageID, EngineError>) -> Void], closeCount: Int)>(([], [], 0))
    private let batches = Mutex<[Int]>([])

    init(name: String) {
        producerName = name
    }

    func publish(_ request: PublishRequest, completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void) {
        state.withLock {
            $0.requests.append(request)
            $0.completions.append(completion)
        }
    }

    /// Records the batch, then keeps one completion per request so tests can complete them in any order.
    func publish(_ requests: [PublishRequest], completion: @escaping @Sendable ([Result<MessageID, EngineError>]) -> Void) {
        batches.withLock { $0.append(requests.count) }
        let collected = Mutex<[Int: Result<MessageID, EngineError>]>([:])
        for (index, request) in requests.enumerated() {
            publish(request) { result in
                let all = collected.withLock { results -> [Result<MessageID, EngineError>]? in
                    results[index] = result
                    return results.count == requests.count ? (0..<requests.count).map { results[$0]! } : nil
                }
                if let all { completion(all) }
            }
        }
    }

    func close() {
        state.withLock { $0.closeCount += 1 }
    }

    var requests: [PublishRequest] { state.withLock { $0.requests } }
    var batchSizes: [Int] { batches.withLock { $0 } }
    var closeCount: Int { state.withLock { $0.closeCount } }

    /// Completes the publish at `index` (in publish order) with `result`.
    func complete(_ index: Int, _ result: Result<MessageID, EngineError>) {
        let completion = state.withLock { $0.completions[index] }
        completion(result)
    }
}

enum ConsumerCall: Equatable {
    case acknowledge(MessageID)
    case acknowledgeBatch([MessageID])
    case acknowledgeCumulative(MessageID)
    case negativeAcknowledge(MessageID)
    case permit(Int)
    case unsubscribe
    case close
}

final class StubConsumer: ConsumerHandle {
    let subscription: String
    let cumulativeError: EngineError?
    let unsubscribeError: EngineError?
    private let calls = Mutex<[ConsumerCall]>([])

    init(subscription: String, cumulativeError: EngineError? = nil, unsubscribeError: EngineError? = nil) {
        self.subscription = subscription
        self.cumulativeError = cumulativeError
        self.unsubscribeError = unsubscribeError
    }

    func acknowledge(_ id: MessageID) { record(.acknowledge(id)) }
    func acknowledge(_ ids: [MessageID]) { record(.acknowledgeBatch(ids)) }
    func negativeAcknowledge(_ id: MessageID) { record(.negativeAcknowledge(id)) }
    func permit(_ count: Int) { record(.permit(count)) }
    func close() { record(.close) }

    func acknowledgeCumulative(_ id: MessageID) throws(EngineError) {
        record(.acknowledgeCumulative(id))
        if let cumulativeError { throw cumulativeError }
    }

    func unsubscribe() throws(EngineError) {
        record(.unsubscribe)
        if let unsubscribeError { throw unsubscribeError }
    }

    private func record(_ call: ConsumerCall) { calls.withLock { $0.append(call) } }
    var recorded: [ConsumerCall] { calls.withLock { $0 } }
}

final class StubReader: ReaderHandle {
    private let calls = Mutex<[ConsumerCall]>([])

    func acknowledge(_ id: MessageID) { calls.withLock { $0.append(.acknowledge(id)) } }
    func close() { calls.withLock { $0.append(.close) } }
    var recorded: [ConsumerCall] { calls.withLock { $0 } }
}

/// An engine that records what the gateway opens; streams exist when listed in `existing`.
final class StubEngine: StreamEngine {
    struct Opened {
        var address: StreamAddress
        var createIfMissing: Bool
        var producerName: String?
        var options: ConsumerOptions?
        var readerStart: ReaderStart?
        var receiverQueueSize: Int?
    }

    private let state = Mutex<(existing: Set<StreamAddress>, opened: [Opened])>(([], []))
    /// Thrown by the next open call, when set.
    let openError: EngineError?
    /// Delivered to a consumer or reader sink inside the open call, before the gateway upgrades.
    let initialDeliveries: [Delivery]
    let producer = StubProducer(name: "standalone-0-1")
    let consumer: StubConsumer
    let reader = StubReader()

    init(existing: Set<StreamAddress> = [], openError: EngineError? = nil, initialDeliveries: [Delivery] = [],
         consumer: StubConsumer = StubConsumer(subscription: "sub")) {
        self.openError = openError
        self.initialDeliveries = initialDeliveries
        self.consumer = consumer
        state.withLock { $0.existing = existing }
    }

    var opened: [Opened] { state.withLock { $0.opened } }

    private func open(_ record: Opened, mayCreate: Bool) throws(EngineError) {
        if let openError { throw openError }
        let exists = state.withLock { $0.existing.contains(record.address) }
        guard exists || mayCreate else { throw .streamNotFound("stream '\(record.address.topic)' not found") }
        state.withLock {
            $0.existing.insert(record.address)
            $0.opened.append(record)
        }
    }

    func openProducer(_ address: StreamAddress, name: String?, remoteAddress: String,
                      createIfMissing: Bool) throws(EngineError) -> any ProducerHandle {
        try open(Opened(address: address, createIfMissing: createIfMissing, producerName: name), mayCreate: createIfMissing)
        return producer
    }

    func subscribe(_ address: StreamAddress, options: ConsumerOptions, remoteAddress: String,
                   createIfMissing: Bool, sink: any DeliverySink) throws(EngineError) -> any ConsumerHandle {
        try open(Opened(address: address, createIfMissing: createIfMissing, options: options), mayCreate: createIfMissing)
        if !initialDeliveries.isEmpty { sink.deliver(initialDeliveries) }
        return consumer
    }

    func openReader(_ address: StreamAddress, start: ReaderStart, receiverQueueSize: Int,
                    sink: any DeliverySink) throws(EngineError) -> any ReaderHandle {
        try open(Opened(address: address, createIfMissing: false, readerStart: start, receiverQueueSize: receiverQueueSize),
                 mayCreate: false)
        if !initialDeliveries.isEmpty { sink.deliver(initialDeliveries) }
        return reader
    }

    func createStream(_ address: StreamAddress) throws(EngineError) { unused() }
    func deleteStream(_ address: StreamAddress, force: Bool) throws(EngineError) { unused() }
    func streamExists(_ address: StreamAddress) -> Bool { state.withLock { $0.existing.contains(address) } }
    func listStreams(tenant: String, fabric: String, scope: StreamScope?) -> [StreamInfo] { unused() }
    func publish(_ address: StreamAddress, _ request: PublishRequest,
                 completion: @escaping @Sendable (Result<MessageID, EngineError>) -> Void) { unused() }
    func stats(_ address: StreamAddress) throws(EngineError) -> StreamStats { unused() }
    func backlog(_ address: StreamAddress) throws(EngineError) -> StreamBacklog { unused() }
    func subscriptions(_ address: StreamAddress) throws(EngineError) -> [String] { unused() }
    func deleteSubscription(_ address: StreamAddress, subscription: String) throws(EngineError) { unused() }
    func unsubscribeEverywhere(tenant: String, fabric: String, scope: StreamScope?, subscription: String) throws(EngineError) { unused() }
    func clearBacklog(tenant: String, fabric: String, scope: StreamScope?, subscription: String?) throws(EngineError) { unused() }
    func messageTTL(tenant: String, fabric: String) -> Int { unused() }
    func setMessageTTL(tenant: String, fabric: String, seconds: Int) throws(EngineError) { unused() }
    func expireMessages(_ address: StreamAddress, olderThanSeconds seconds: Int) throws(EngineError) { unused() }
    func shutdown() {}

    private func unused() -> Never {
        fatalError("the WebSocket gateway does not call this engine method")
    }
}

enum Fixtures {
    static let principal = Principal(tenant: "demo", username: "root")
    static let stream = StreamAddress(tenant: "demo", fabric: "_system", scope: .global, name: "orders")
    static let consumerPath = "/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.orders/sub"
    static let producerPath = "/_ws/ws/v2/producer/persistent/demo/c8global._system/c8globals.orders"
    static let readerPath = "/_ws/ws/v2/reader/persistent/demo/c8global._system/c8globals.orders"

    static func authenticator() -> StubAuthenticator {
        StubAuthenticator(
            headers: ["apikey good-key": principal, "bearer good-jwt": principal,
                      "apikey other-key": Principal(tenant: "other", username: "root")],
            oneTimePasswords: ["otp-1": principal])
    }

    static func request(_ target: String, headers: [(name: String, value: String)] = [("Authorization", "apikey good-key")],
                        upgrade: Bool = true) -> HTTPRequest {
        HTTPRequest(method: "GET", target: target, headers: HTTPHeaders(headers), remoteAddress: "127.0.0.1:50000",
                    connectionId: 42, isWebSocketUpgrade: upgrade)
    }

    static func gateway(engine: StubEngine, auth: StubAuthenticator = authenticator(),
                        configure: (inout APIConfiguration) -> Void = { _ in }, sink: MemorySink = MemorySink()) -> WebSocketGateway {
        var configuration = APIConfiguration()
        configure(&configuration)
        return WebSocketGateway(configuration: configuration, engine: engine, auth: auth,
                                logger: Logger(label: "test", level: .debug, sink: sink), nowMillis: { 1_700_000_000_000 })
    }

    static func delivery(sequence: UInt64, payload: String = "hi", redeliveryCount: Int = 0) -> Delivery {
        Delivery(message: StoredMessage(id: MessageID(streamId: 1, sequence: sequence), publishTime: 1_635_548_498_967,
                                        payload: Array(payload.utf8)),
                 redeliveryCount: redeliveryCount)
    }
}
