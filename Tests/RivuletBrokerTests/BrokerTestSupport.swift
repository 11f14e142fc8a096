import Dispatch
import RivuletCore
import RivuletStorage
import Synchronization
@testable import RivuletBroker

/// Collects what the engine hands to one consumer or reader.
final class RecordingSink: DeliverySink {
    private let state = Mutex<(deliveries: [Delivery], closedReason: String?)>(([], nil))
    /// Runs inside `deliver`, as a client reacting to a message would.
    let onDeliver: (@Sendable (Delivery) -> Void)?

    init(onDeliver: (@Sendable (Delivery) -> Void)? = nil) {
        self.onDeliver = onDeliver
    }

    func deliver(_ deliveries: [Delivery]) {
        state.withLock { $0.deliveries += deliveries }
        if let onDeliver { deliveries.forEach(onDeliver) }
    }

    func engineClosed(reason: String) {
        state.withLock { $0.closedReason = reason }
    }

    var deliveries: [Delivery] { state.withLock { $0.deliveries } }
    var payloads: [String] { deliveries.map { String(decoding: $0.message.payload, as: UTF8.self) } }
    var ids: [MessageID] { deliveries.map(\.message.id) }
    var closedReason: String? { state.withLock { $0.closedReason } }
}

/// An engine over a `MemoryLog` and a `ManualClock`, with helpers that wait (bounded) for completions.
struct Harness {
    let log: MemoryLog
    let clock: ManualClock
    let engine: EmbeddedEngine
    let logs: MemorySink
    let address = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "orders")

    init(log: MemoryLog = MemoryLog(), clock: ManualClock = ManualClock(), configuration: BrokerConfiguration = BrokerConfiguration()) throws {
        self.log = log
        self.clock = clock
        self.logs = MemorySink()
        self.engine = try EmbeddedEngine(
            log: log, configuration: configuration, logger: Logger(label: "broker", level: .debug, sink: logs), clock: clock
        )
    }

    /// Opens a second engine over the same log, as after a crash (no shutdown) or a restart.
    func restarted(configuration: BrokerConfiguration = BrokerConfiguration()) throws -> Harness {
        try Harness(log: log, clock: clock, configuration: configuration)
    }

    @discardableResult
    func publish(_ text: String, key: String? = nil, deliverAt: Int64 = 0, to address: StreamAddress? = nil) throws -> MessageID {
        try wait { completion in
            engine.publish(address ?? self.address, PublishRequest(payload: Array(text.utf8), key: key, deliverAt: deliverAt), completion: completion)
        }
    }

    @discardableResult
    func publish(count: Int, prefix: String = "m") throws -> [MessageID] {
        try (0..<count).map { try publish("\(prefix)\($0)") }
    }

    func subscribe(
        _ subscription: String = "sub", type: SubscriptionType = .exclusive, sink: RecordingSink,
        configure: (inout ConsumerOptions) -> Void = { _ in }
    ) throws -> any ConsumerHandle {
        var options = ConsumerOptions(subscription: subscription)
        options.type = type
        configure(&options)
        let consumer = try engine.subscribe(address, options: options, remoteAddress: "127.0.0.1:5000", createIfMissing: true, sink: sink)
        // Bodies not cached (after a restart, or beyond a small cache budget) arrive from the reader queue.
        engine.waitForReads()
        return consumer
    }
}

struct TimedOut: Error {}

/// Waits at most 5 seconds for a completion-style call.
func wait<Value: Sendable>(
    _ start: (@escaping @Sendable (Result<Value, EngineError>) -> Void) -> Void
) throws -> Value {
    let semaphore = DispatchSemaphore(value: 0)
    let box = Mutex<Result<Value, EngineError>?>(nil)
    start { result in
        box.withLock { $0 = result }
        semaphore.signal()
    }
    guard semaphore.wait(timeout: .now() + .seconds(5)) == .success, let result = box.withLock({ $0 }) else { throw TimedOut() }
    return try result.get()
}
