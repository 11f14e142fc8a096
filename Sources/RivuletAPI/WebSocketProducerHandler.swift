import RivuletCore
import RivuletHTTP
import Synchronization

/// One producer socket: decodes publish frames, publishes them, and acks each frame in arrival order.
///
/// A bad frame gets an error ack and never closes the socket; binary frames are ignored, as Pulsar does.
final class WebSocketProducerHandler: WebSocketHandler {
    private let producer: any ProducerHandle
    private let acks = WebSocketAckQueue()
    private let maxPayloadBytes: Int
    private let nowMillis: @Sendable () -> Int64
    private let logger: Logger
    /// Makes `producer.close()` happen once.
    private let closed = Atomic<Bool>(false)

    init(producer: any ProducerHandle, maxPayloadBytes: Int, nowMillis: @escaping @Sendable () -> Int64, logger: Logger) {
        self.producer = producer
        self.maxPayloadBytes = maxPayloadBytes
        self.nowMillis = nowMillis
        self.logger = logger
    }

    func webSocketDidOpen(_ connection: any WebSocketConnection) {
        acks.attach(connection)
        logger.info("producer connected")
        producer.onEngineClose { [logger] reason in
            logger.info("producer ended by the engine", ["reason": reason])
            connection.close(code: 1000, reason: truncatedCloseReason(reason))
        }
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveText text: [UInt8]) {
        let ticket = acks.takeTicket()
        switch PulsarPublishFrame.decode(text, nowMillis: nowMillis()) {
        case .failure(let error):
            logger.debug("publish frame rejected", ["error": "\(error)"])
            acks.complete(ticket, frame: PulsarProducerAck.failure(error))
        case .success(var frame):
            guard frame.request.payload.count <= maxPayloadBytes else {
                let message = "payload of \(frame.request.payload.count) bytes is larger than the limit of \(maxPayloadBytes) bytes"
                acks.complete(ticket, frame: PulsarProducerAck.failure(
                    code: PulsarErrorCode.unknownError.rawValue, message: message, context: frame.context))
                return
            }
            frame.request.producerName = producer.producerName
            let context = frame.context
            let acks = self.acks
            producer.publish(frame.request) { result in
                switch result {
                case .success(let id):
                    acks.complete(ticket, frame: PulsarProducerAck.ok(messageId: id, context: context))
                case .failure(let error):
                    acks.complete(ticket, frame: PulsarProducerAck.failure(
                        code: PulsarErrorCode.unknownError.rawValue, message: error.message, context: context))
                }
            }
        }
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveBinary data: [UInt8]) {
        logger.debug("binary frame ignored", ["bytes": "\(data.count)"])
    }

    func webSocketDidClose(_ connection: any WebSocketConnection, code: UInt16?) {
        acks.detach()
        closeProducer()
        logger.info("producer disconnected", ["code": code.map { "\($0)" } ?? "none"])
    }

    /// Detaches the producer from the engine once.
    func closeProducer() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        producer.close()
    }
}
