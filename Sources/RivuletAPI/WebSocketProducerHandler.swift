import RivuletCore
import RivuletHTTP
import Synchronization

/// One producer socket: decodes publish frames, publishes those of one socket read as a batch, and acks each
/// frame in arrival order.
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
    /// Frames decoded from the current read of the socket, published together when the read is used up.
    private let pending = Mutex<[PendingFrame]>([])

    private enum PendingFrame {
        case publish(PublishRequest, context: String?)
        /// A frame rejected before publishing, with its error ack.
        case answered([UInt8])
    }

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
        let entry: PendingFrame
        switch PulsarPublishFrame.decode(text, nowMillis: nowMillis()) {
        case .failure(let error):
            logger.debug("publish frame rejected", ["error": "\(error)"])
            entry = .answered(PulsarProducerAck.failure(error))
        case .success(var frame):
            if frame.request.payload.count > maxPayloadBytes {
                let message = "payload of \(frame.request.payload.count) bytes is larger than the limit of \(maxPayloadBytes) bytes"
                entry = .answered(PulsarProducerAck.failure(
                    code: PulsarErrorCode.unknownError.rawValue, message: message, context: frame.context))
            } else {
                frame.request.producerName = producer.producerName
                entry = .publish(frame.request, context: frame.context)
            }
        }
        pending.withLock { $0.append(entry) }
    }

    func webSocketDidFinishReading(_ connection: any WebSocketConnection) {
        publishPending()
    }

    /// Publishes the frames decoded from the current read as one batch, so the engine appends, completes and
    /// dispatches them together. Their acks keep the order in which the frames arrived.
    private func publishPending() {
        let frames = pending.withLock { pending -> [PendingFrame] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !frames.isEmpty else { return }
        let firstTicket = acks.takeTickets(frames.count)
        var requests: [PublishRequest] = []
        var contexts: [String?] = []
        var published: [Int] = []
        var answered: [(Int, [UInt8])] = []
        for (offset, frame) in frames.enumerated() {
            switch frame {
            case .publish(let request, let context):
                requests.append(request)
                contexts.append(context)
                published.append(offset)
            case .answered(let ack):
                answered.append((offset, ack))
            }
        }
        for (offset, ack) in answered { acks.complete(firstTicket + UInt64(offset), frame: ack) }
        guard !requests.isEmpty else { return }
        let acks = self.acks
        let contiguous = answered.isEmpty
        producer.publish(requests) { [contexts, published] results in
            let frames = zip(results, contexts).map { result, context -> [UInt8] in
                switch result {
                case .success(let id):
                    return PulsarProducerAck.ok(messageId: id, context: context)
                case .failure(let error):
                    return PulsarProducerAck.failure(
                        code: PulsarErrorCode.unknownError.rawValue, message: error.message, context: context)
                }
            }
            if contiguous {
                acks.complete(firstTicket: firstTicket, frames: frames)
            } else {
                for (offset, frame) in zip(published, frames) { acks.complete(firstTicket + UInt64(offset), frame: frame) }
            }
        }
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveBinary data: [UInt8]) {
        logger.debug("binary frame ignored", ["bytes": "\(data.count)"])
    }

    func webSocketDidClose(_ connection: any WebSocketConnection, code: UInt16?) {
        // Frames that arrived before the close are stored, as the client sent them, though no ack can reach it.
        publishPending()
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
