import RivuletCore
import RivuletHTTP
import Synchronization
import Testing
@testable import RivuletAPI

/// A consumer and reader handle that records only `setWritable` calls.
private final class WritabilityRecorder: ConsumerHandle, ReaderHandle {
    let subscription = "sub"
    private let calls = Mutex<[Bool]>([])
    var recorded: [Bool] { calls.withLock { $0 } }

    func setWritable(_ writable: Bool) { calls.withLock { $0.append(writable) } }
    func acknowledge(_ id: MessageID) {}
    func acknowledgeCumulative(_ id: MessageID) throws(EngineError) {}
    func negativeAcknowledge(_ id: MessageID) {}
    func permit(_ count: Int) {}
    func unsubscribe() throws(EngineError) {}
    func close() {}
}

private let logger = Logger(label: "test", level: .debug, sink: MemorySink())

struct WebSocketWritabilityForwardingTests {
    @Test func consumerHandlerForwardsWritability() {
        let handler = WebSocketConsumerHandler(logger: logger)
        let consumer = WritabilityRecorder()
        handler.attach(consumer)
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        handler.webSocketDidChangeWritability(connection, writable: false)
        handler.webSocketDidChangeWritability(connection, writable: true)
        #expect(consumer.recorded == [false, true])
    }

    @Test func readerHandlerForwardsWritability() {
        let handler = WebSocketReaderHandler(logger: logger)
        let reader = WritabilityRecorder()
        handler.attach(reader)
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        handler.webSocketDidChangeWritability(connection, writable: false)
        handler.webSocketDidChangeWritability(connection, writable: true)
        #expect(reader.recorded == [false, true])
    }
}
