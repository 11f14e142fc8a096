import RivuletCore
import Synchronization

extension Connection: WebSocketConnection {
    /// Queues one text frame; safe from any thread. Dropped once the close handshake started.
    func sendText(_ utf8: [UInt8]) {
        let count = utf8.count
        let queuedEarlier = queuedOutsideLoop.add(count, ordering: .relaxed).oldValue
        runAfterQueuedFrames(queuedEarlier) { [self] in
            queuedOutsideLoop.subtract(count, ordering: .relaxed)
            guard mode == .webSocket, closeSentAt == nil else { return }
            WebSocketFrameEncoder.append(opcode: .text, payload: utf8, to: &output)
            outputCountMirror.store(output.count, ordering: .relaxed)
            loop.markTouched(self)
            updateWritability()
        }
    }

    /// Queues text frames in order with one hop to the loop: a closure per frame cost more than the
    /// framing itself when the log writer completes hundreds of publishes at once.
    func sendTexts(_ frames: [[UInt8]]) {
        guard !frames.isEmpty else { return }
        let count = frames.reduce(0) { $0 + $1.count }
        let queuedEarlier = queuedOutsideLoop.add(count, ordering: .relaxed).oldValue
        runAfterQueuedFrames(queuedEarlier) { [self] in
            queuedOutsideLoop.subtract(count, ordering: .relaxed)
            guard mode == .webSocket, closeSentAt == nil else { return }
            for frame in frames { WebSocketFrameEncoder.append(opcode: .text, payload: frame, to: &output) }
            outputCountMirror.store(output.count, ordering: .relaxed)
            loop.markTouched(self)
            updateWritability()
        }
    }

    /// Runs `work` on the loop: inline on the loop thread unless frames posted earlier from another thread
    /// still wait in the loop's inbox, which the frames of `work` must not overtake.
    private func runAfterQueuedFrames(_ queuedEarlier: Int, _ work: @escaping @Sendable () -> Void) {
        if queuedEarlier > 0 { loop.execute(work) } else { loop.run(work) }
    }

    /// Starts the close handshake; safe from any thread.
    func close(code: UInt16, reason: String) {
        loop.run { [self] in
            startClose(code: code, reason: reason)
            loop.markTouched(self)
        }
    }

    var bufferedBytes: Int {
        queuedOutsideLoop.load(ordering: .relaxed) + outputCountMirror.load(ordering: .relaxed)
    }
}

extension Connection {
    func becomeWebSocket(_ handler: any WebSocketHandler) {
        mode = .webSocket
        awaitingUpgrade = false
        completions = [:]
        requests = [:]
        decoder = WebSocketFrameDecoder(
            maxFrameBytes: configuration.maxWebSocketFrameBytes, maxMessageBytes: configuration.maxWebSocketMessageBytes,
            requireMasked: true)
        self.handler = handler
        lastFrameAt = loop.now
        nextPingAt = configuration.webSocketPingInterval.map { loop.now.addingSaturated($0.nanoseconds) }
        loop.markTouched(self)
        handler.webSocketDidOpen(self)
        if !input.isEmpty { processInput() }
    }

    /// Decodes frames and hands them to the handler, one callback at a time, then tells the handler that the
    /// input read so far is used up.
    func decodeFrames() {
        defer { if mode == .webSocket, !closeNotified { handler?.webSocketDidFinishReading(self) } }
        while mode == .webSocket && !stopDecoding && decoder != nil {
            let event: WebSocketEvent?
            do {
                event = try decoder!.next(&input)
            } catch {
                fail(error)
                return
            }
            guard let event else { return }
            handle(event)
        }
        if stopDecoding { input.consume(input.count) }
    }

    private func handle(_ event: WebSocketEvent) {
        lastFrameAt = loop.now
        let open = closeSentAt == nil
        switch event {
        case .text(let payload):
            if open { handler?.webSocket(self, didReceiveText: payload) }
        case .binary(let payload):
            if open { handler?.webSocket(self, didReceiveBinary: payload) }
        case .ping(let payload):
            if open { queueFrame(.pong, payload) }
        case .pong:
            break
        case .close(let code, _):
            stopDecoding = true
            if open {
                // Echo the peer's code, as RFC 6455 section 5.5.1 suggests; an empty close gets an empty one.
                queueFrame(.close, code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } ?? [])
                closeSentAt = loop.now
            }
            closeReason = "peer sent close code \(code.map { "\($0)" } ?? "none")"
            closeAfterFlush = true
            notifyClosed(code: code)
        }
    }

    /// Fails the connection after a protocol violation: sends the matching close code and closes.
    private func fail(_ error: WebSocketProtocolError) {
        logger.debug("websocket protocol error", [
            "connection": "\(id)", "remote": remoteAddress, "code": "\(error.closeCode)", "reason": error.reason,
        ])
        stopDecoding = true
        if closeSentAt == nil {
            queueFrame(.close, WebSocketFrameEncoder.closePayload(code: error.closeCode, reason: error.reason))
            closeSentAt = loop.now
        }
        closeReason = "protocol error \(error.closeCode): \(error.reason)"
        closeAfterFlush = true
        notifyClosed(code: nil)
    }

    /// Sends our close frame and waits up to `closeHandshakeTimeout` for the peer's.
    func startClose(code: UInt16, reason: String) {
        guard mode == .webSocket, closeSentAt == nil else { return }
        queueFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
        closeSentAt = loop.now
        closeReason = "server sent close code \(code)"
    }

    func handleWebSocketDeadline(now: UInt64) {
        if let sentAt = closeSentAt {
            if now >= sentAt.addingSaturated(configuration.closeHandshakeTimeout.nanoseconds) {
                closeNow(reason: "close handshake timed out")
            }
            return
        }
        if now >= lastFrameAt.addingSaturated(configuration.webSocketIdleTimeout.nanoseconds) {
            startClose(code: WebSocketCloseCode.goingAway, reason: "idle timeout")
            return
        }
        if let pingAt = nextPingAt, now >= pingAt, let interval = configuration.webSocketPingInterval {
            queueFrame(.ping, [])
            nextPingAt = now.addingSaturated(interval.nanoseconds)
        }
    }

    private func queueFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8]) {
        WebSocketFrameEncoder.append(opcode: opcode, payload: payload, to: &output)
        outputCountMirror.store(output.count, ordering: .relaxed)
        loop.markTouched(self)
    }

    /// Reports to the handler when the queued bytes pass the high-water mark or drain to half of it. Bytes
    /// posted from other threads count too: they reach `output` only when the loop runs their closure, so
    /// without them a sender could be reported writable while its frames still wait in the loop's inbox.
    func updateWritability() {
        guard mode == .webSocket, !closeNotified, let handler else { return }
        let queued = output.count + queuedOutsideLoop.load(ordering: .relaxed)
        let highWater = configuration.outboundHighWaterBytes
        if isWritable, queued > highWater {
            isWritable = false
        } else if !isWritable, queued <= highWater / 2 {
            isWritable = true
        } else {
            return
        }
        // The state changes before the call, so a change the handler causes (sending inline) is reported after it.
        handler.webSocketDidChangeWritability(self, writable: isWritable)
    }

    /// Calls `webSocketDidClose` the first time only.
    func notifyClosed(code: UInt16?) {
        guard !closeNotified, let handler else { return }
        closeNotified = true
        handler.webSocketDidClose(self, code: code)
    }
}

/// Completes one request on its connection's loop. A second call is ignored. A responder released without any
/// call sends 500, so later pipelined responses are not held back forever.
final class ConnectionResponder: HTTPResponder {
    private let connection: Connection
    private let sequence: UInt64
    private let completed = Atomic<Bool>(false)

    init(connection: Connection, sequence: UInt64) {
        self.connection = connection
        self.sequence = sequence
    }

    func respond(_ response: HTTPResponse) {
        deliver(.response(response))
    }

    func upgrade(to handler: any WebSocketHandler, headers: [(String, String)]) {
        deliver(.upgrade(handler, headers))
    }

    private func deliver(_ completion: Connection.Completion) {
        guard !completed.exchange(true, ordering: .acquiringAndReleasing) else {
            connection.logger.debug("responder called twice", ["connection": "\(connection.id)"])
            return
        }
        let connection = connection
        let sequence = sequence
        connection.loop.run {
            connection.complete(sequence, completion)
        }
    }

    deinit {
        guard !completed.load(ordering: .acquiring) else { return }
        let connection = connection
        let sequence = sequence
        connection.logger.debug("request dropped without a response", ["connection": "\(connection.id)"])
        connection.loop.run {
            connection.complete(sequence, .response(Connection.errorResponse(status: 500, message: "no response")))
        }
    }
}
