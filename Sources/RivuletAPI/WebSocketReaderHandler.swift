import RivuletCore
import RivuletHTTP
import Synchronization

/// One reader socket: forwards deliveries; any client frame with a message id frees one slot of the window.
final class WebSocketReaderHandler: WebSocketHandler, DeliverySink {
    private let outbox = WebSocketDeliveryOutbox()
    /// The engine's reader; nil until `attach(_:)`.
    private let reader = Mutex<(any ReaderHandle)?>(nil)
    /// Makes `reader.close()` happen once.
    private let closed = Atomic<Bool>(false)
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func attach(_ reader: any ReaderHandle) {
        self.reader.withLock { $0 = reader }
    }

    func deliver(_ deliveries: [Delivery]) {
        outbox.send(deliveries)
    }

    func engineClosed(reason: String) {
        logger.info("reader ended by the engine", ["reason": reason])
        outbox.close(code: 1000, reason: reason)
    }

    func webSocketDidOpen(_ connection: any WebSocketConnection) {
        outbox.attach(connection)
        logger.info("reader connected")
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveText text: [UInt8]) {
        guard let reader = reader.withLock({ $0 }) else { return }
        switch PulsarConsumerCommand.decode(text) {
        case .isEndOfTopic:
            outbox.send([PulsarDeliveryFrame.endOfTopic(false)])
        case .acknowledge(let text), .acknowledgeCumulative(let text), .negativeAcknowledge(let text):
            guard let id = MessageID(encoded: text) else {
                logger.debug("invalid message id ignored", ["messageId": String(text.prefix(64))])
                return
            }
            reader.acknowledge(id)
        case .permit, .unsubscribe:
            logger.debug("reader frame ignored", ["reason": "readers take no permit or unsubscribe"])
        case .ignored(let reason):
            logger.debug("reader frame ignored", ["reason": reason])
        }
    }

    /// Pauses the engine's deliveries while the socket is congested, so a client that reads slowly pins
    /// about the connection's outbound limit rather than a whole receive window of messages.
    func webSocketDidChangeWritability(_ connection: any WebSocketConnection, writable: Bool) {
        logger.debug("reader writability changed", ["writable": "\(writable)"])
        reader.withLock({ $0 })?.setWritable(writable)
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveBinary data: [UInt8]) {
        logger.debug("binary frame ignored", ["bytes": "\(data.count)"])
    }

    func webSocketDidClose(_ connection: any WebSocketConnection, code: UInt16?) {
        outbox.detach()
        closeReader()
        logger.info("reader disconnected", ["code": code.map { "\($0)" } ?? "none"])
    }

    /// Detaches the reader from the engine once.
    func closeReader() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        reader.withLock { $0 }?.close()
    }
}
