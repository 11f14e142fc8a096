import RivuletCore
import RivuletHTTP
import Synchronization

/// One consumer socket: forwards deliveries to the client and the client's commands to the engine.
///
/// It is the engine's delivery sink, so it exists before the consumer does. `attach(_:)` hands it the consumer
/// once the engine has created it, before the upgrade. Frames that are not commands (the old SDKs' `"noop"`
/// keep-alive, invalid ids) are logged at debug level and ignored, never a reason to close.
final class WebSocketConsumerHandler: WebSocketHandler, DeliverySink {
    private let outbox: WebSocketDeliveryOutbox
    /// The engine's consumer; nil until `attach(_:)`.
    private let consumer = Mutex<(any ConsumerHandle)?>(nil)
    /// Makes `consumer.close()` happen once.
    private let closed = Atomic<Bool>(false)
    /// Individual acks decoded from the current read of the socket, applied together when the read is used up
    /// or before any other command, so their order relative to other commands holds.
    private let pendingAcks = Mutex<[MessageID]>([])
    private let logger: Logger

    /// `frameCache`, when given, is shared with the gateway's other consumer sockets.
    init(logger: Logger, frameCache: DeliveryFrameCache? = nil) {
        self.logger = logger
        outbox = WebSocketDeliveryOutbox(frameCache: frameCache)
    }

    func attach(_ consumer: any ConsumerHandle) {
        self.consumer.withLock { $0 = consumer }
    }

    // MARK: DeliverySink

    func deliver(_ deliveries: [Delivery]) {
        outbox.send(deliveries)
    }

    func engineClosed(reason: String) {
        logger.info("consumer ended by the engine", ["reason": reason])
        outbox.close(code: 1000, reason: reason)
    }

    // MARK: WebSocketHandler

    func webSocketDidOpen(_ connection: any WebSocketConnection) {
        outbox.attach(connection)
        logger.info("consumer connected")
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveText text: [UInt8]) {
        guard let consumer = consumer.withLock({ $0 }) else { return }
        let command = PulsarConsumerCommand.decode(text)
        if case .acknowledge(let text) = command {
            guard let id = messageID(text) else { return }
            pendingAcks.withLock { $0.append(id) }
            return
        }
        applyPendingAcks(consumer)
        switch command {
        case .acknowledge:
            break
        case .acknowledgeCumulative(let text):
            guard let id = messageID(text) else { return }
            do {
                try consumer.acknowledgeCumulative(id)
            } catch {
                outbox.send([PulsarDeliveryFrame.commandError(message: error.message, messageId: text)])
            }
        case .negativeAcknowledge(let text):
            guard let id = messageID(text) else { return }
            consumer.negativeAcknowledge(id)
        case .permit(let count):
            consumer.permit(count)
        case .unsubscribe:
            unsubscribe(consumer, connection: connection)
        case .isEndOfTopic:
            outbox.send([PulsarDeliveryFrame.endOfTopic(false)])
        case .ignored(let reason):
            logger.debug("consumer frame ignored", ["reason": reason])
        }
    }

    func webSocketDidFinishReading(_ connection: any WebSocketConnection) {
        guard let consumer = consumer.withLock({ $0 }) else { return }
        applyPendingAcks(consumer)
    }

    /// Pauses the engine's deliveries while the socket is congested, so a client that reads slowly pins
    /// about the connection's outbound limit rather than a whole receive window of messages.
    func webSocketDidChangeWritability(_ connection: any WebSocketConnection, writable: Bool) {
        logger.debug("consumer writability changed", ["writable": "\(writable)"])
        consumer.withLock({ $0 })?.setWritable(writable)
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveBinary data: [UInt8]) {
        logger.debug("binary frame ignored", ["bytes": "\(data.count)"])
    }

    func webSocketDidClose(_ connection: any WebSocketConnection, code: UInt16?) {
        outbox.detach()
        if let consumer = consumer.withLock({ $0 }) { applyPendingAcks(consumer) }
        closeConsumer()
        logger.info("consumer disconnected", ["code": code.map { "\($0)" } ?? "none"])
    }

    /// Detaches the consumer from the engine once; its unacknowledged messages go back to the subscription.
    func closeConsumer() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        consumer.withLock { $0 }?.close()
    }

    private func unsubscribe(_ consumer: any ConsumerHandle, connection: any WebSocketConnection) {
        do {
            try consumer.unsubscribe()
            logger.info("subscription deleted by its consumer")
            connection.close(code: 1000, reason: "unsubscribed")
        } catch {
            // Pulsar closes with its code 3 when unsubscribe fails, typically because other consumers are attached.
            logger.info("unsubscribe failed", ["error": error.message])
            let code = PulsarErrorCode.failedToDeserializeFromJSON
            connection.close(code: code.closeCode, reason: truncatedCloseReason("\(code.description): \(error.message)"))
        }
    }

    private func applyPendingAcks(_ consumer: any ConsumerHandle) {
        let ids = pendingAcks.withLock { pending -> [MessageID] in
            guard !pending.isEmpty else { return [] }
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !ids.isEmpty else { return }
        consumer.acknowledge(ids)
    }

    private func messageID(_ text: String) -> MessageID? {
        guard let id = MessageID(encoded: text) else {
            logger.debug("invalid message id ignored", ["messageId": String(text.prefix(64))])
            return nil
        }
        return id
    }
}
