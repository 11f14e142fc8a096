import CLinux
import COpenSSL
import Glibc
import RivuletCore
import Synchronization

/// One accepted socket: its byte queues, its TLS session and its protocol state (HTTP, then maybe WebSocket).
///
/// All state belongs to the owning loop's thread. The `WebSocketConnection` methods are the only entry points
/// from other threads, and they hop to the loop.
final class Connection: @unchecked Sendable {
    enum Mode {
        case http
        case webSocket
        /// Output is flushed and the write side shut; unread input is discarded until EOF or the timeout.
        case draining
        case closed
    }

    enum Completion: Sendable {
        case response(HTTPResponse)
        case upgrade(any WebSocketHandler, [(String, String)])
    }

    struct RequestInfo {
        var isHead: Bool
        var keepAlive: Bool
        var webSocketKey: String?
    }

    /// Requests parsed ahead of their responses; more wait in the input queue.
    static let maxPipelinedRequests: UInt64 = 64
    /// Reads of up to 64 KiB per connection per loop pass, so one fast sender cannot starve the others.
    static let readBudget = 16

    let loop: EventLoop
    let fd: Int32
    let id: UInt64
    let remoteAddress: String
    var configuration: HTTPServerConfiguration { loop.context.configuration }
    var logger: Logger { loop.context.logger }
    var tlsSession: OpaquePointer?

    var input = ByteQueue()
    var output = ByteQueue()
    var mode = Mode.http
    var isClosed: Bool { mode == .closed }
    var closeReason: String?

    // Loop bookkeeping.
    var isTouched = false
    var deadline: UInt64?
    var scheduledDeadline: UInt64?

    // I/O state.
    let acceptedAt: UInt64
    var lastReadAt: UInt64
    var closeAfterFlush = false
    var drainStartedAt: UInt64 = 0
    var outputPaused = false
    var readBlocked = false
    var peerClosedInput = false
    var tlsReadWantsWrite = false
    var isProcessingInput = false
    var inputPending = false
    /// Bytes passed to `sendText` on other threads that have not reached `output` yet.
    let queuedOutsideLoop = Atomic<Int>(0)
    /// `output.count` as of the last change, for `bufferedBytes` on other threads.
    let outputCountMirror = Atomic<Int>(0)

    // HTTP state.
    var parser: HTTPRequestParser
    var nextRequestSequence: UInt64 = 0
    var nextResponseSequence: UInt64 = 0
    var completions: [UInt64: Completion] = [:]
    var requests: [UInt64: RequestInfo] = [:]
    var stopParsing = false
    var awaitingUpgrade = false
    var requestStartedAt: UInt64?
    var lastActivityAt: UInt64
    var outstandingRequestCount: UInt64 { nextRequestSequence - nextResponseSequence }

    // WebSocket state.
    var decoder: WebSocketFrameDecoder?
    var handler: (any WebSocketHandler)?
    var closeSentAt: UInt64?
    var stopDecoding = false
    var closeNotified = false
    var lastFrameAt: UInt64 = 0
    var nextPingAt: UInt64?
    /// Writability as last reported to the handler (`webSocketDidChangeWritability`).
    var isWritable = true

    init(loop: EventLoop, fd: Int32, id: UInt64, remoteAddress: String, tlsSession: OpaquePointer?) {
        self.loop = loop
        self.fd = fd
        self.id = id
        self.remoteAddress = remoteAddress
        self.tlsSession = tlsSession
        let configuration = loop.context.configuration
        parser = HTTPRequestParser(
            maxHeadBytes: configuration.maxRequestHeadBytes, maxBodyBytes: configuration.maxRequestBodyBytes)
        acceptedAt = loop.now
        lastReadAt = loop.now
        lastActivityAt = loop.now
    }

    // MARK: Events

    func handleEvents(_ events: UInt32) {
        guard mode != .closed else { return }
        let readable = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue
        if events & readable != 0 || (tlsReadWantsWrite && events & EPOLLOUT.rawValue != 0) {
            readAvailable()
        }
    }

    private var canRead: Bool {
        guard mode != .closed, !peerClosedInput else { return false }
        if output.count > configuration.outboundHighWaterBytes { outputPaused = true }
        guard !outputPaused else { return false }
        if mode == .http && (stopParsing || awaitingUpgrade || outstandingRequestCount >= Self.maxPipelinedRequests) {
            // Parsing is on hold: keep at most one head's worth of input so a pipelining client cannot grow it.
            return input.count < configuration.maxRequestHeadBytes
        }
        return true
    }

    /// Reads until the socket would block (edge-triggered epoll reports readiness only once) or reading stops.
    /// After `readBudget` reads the connection yields to the others and continues in the next loop pass.
    func readAvailable() {
        var reads = 0
        while mode != .closed {
            guard canRead else {
                readBlocked = true
                return
            }
            guard reads < Self.readBudget else {
                loop.continueReadingNextPass(self)
                return
            }
            reads += 1
            switch receive() {
            case .bytes(let count):
                lastReadAt = loop.now
                guard mode != .draining else { continue }
                input.append(contentsOf: loop.readBuffer[0..<count])
                processInput()
            case .wouldBlock:
                return
            case .endOfFile:
                handleEndOfFile()
                return
            case .failure(let reason):
                closeNow(reason: reason)
                return
            }
        }
    }

    private func handleEndOfFile() {
        switch mode {
        case .http where outstandingRequestCount > 0:
            // A client may half-close after its last request; it still gets the responses.
            peerClosedInput = true
            stopParsing = true
        case .http:
            closeNow(reason: parser.isIdle && input.isEmpty ? "peer closed" : "peer closed inside a request")
        case .webSocket:
            closeNow(reason: stopDecoding ? (closeReason ?? "peer closed") : "peer closed the socket without a close frame")
        case .draining:
            closeNow(reason: closeReason ?? "peer closed")
        case .closed:
            break
        }
    }

    /// Routes new input to the current protocol. Re-entrant calls (from a service that responds inline, or an
    /// upgrade) only mark the input pending, and the outer call loops.
    func processInput() {
        guard !isProcessingInput else {
            inputPending = true
            return
        }
        isProcessingInput = true
        repeat {
            inputPending = false
            switch mode {
            case .http: parseRequests()
            case .webSocket: decodeFrames()
            case .draining: input.consume(input.count)
            case .closed: break
            }
        } while inputPending && mode != .closed
        isProcessingInput = false
        if output.count > 0 { loop.markTouched(self) }
    }

    // MARK: Output

    /// Writes the output queue with as few calls as the socket allows, then applies backpressure and
    /// finishes a pending close. Called once per loop pass.
    func flush() {
        while mode != .closed && !output.isEmpty {
            switch send() {
            case .bytes(let count):
                output.consume(count)
            case .wouldBlock, .endOfFile:
                updateBackpressure()
                return
            case .failure(let reason):
                closeNow(reason: reason)
                return
            }
        }
        guard mode != .closed else { return }
        if output.isEmpty && closeAfterFlush && mode != .draining {
            startDrain()
        }
        updateBackpressure()
    }

    private func updateBackpressure() {
        outputCountMirror.store(output.count, ordering: .relaxed)
        let highWater = configuration.outboundHighWaterBytes
        if output.count > highWater {
            outputPaused = true
        } else if outputPaused && output.count <= highWater / 2 {
            outputPaused = false
        }
        if readBlocked && canRead {
            // Edge-triggered epoll will not report data that arrived while reading was paused.
            readBlocked = false
            readAvailable()
            loop.markTouched(self)
        }
        updateWritability()
    }

    /// Shuts the write side after the last response or close frame and waits briefly for the peer's EOF, so
    /// unread input does not turn the close into a reset that could destroy the response in flight.
    private func startDrain() {
        if peerClosedInput {
            closeNow(reason: closeReason ?? "peer closed")
            return
        }
        mode = .draining
        drainStartedAt = loop.now
        input.consume(input.count)
        if let session = tlsSession {
            ERR_clear_error()
            _ = SSL_shutdown(session)
        }
        shutdown(fd, Int32(SHUT_WR))
        readBlocked = false
        readAvailable()
    }

    /// Closes the socket at once and calls `webSocketDidClose` unless the handler already got it.
    func closeNow(reason: String) {
        guard mode != .closed else { return }
        mode = .closed
        loop.remove(self)
        if let session = tlsSession {
            SSL_free(session)
            tlsSession = nil
        }
        Glibc.close(fd)
        logger.debug("connection closed", ["connection": "\(id)", "remote": remoteAddress, "reason": reason])
        if handler != nil {
            notifyClosed(code: nil)
            handler = nil
        }
        completions = [:]
        requests = [:]
        input = ByteQueue()
        output = ByteQueue()
        outputCountMirror.store(0, ordering: .relaxed)
    }

    /// Finishes work in flight and closes: HTTP after the outstanding responses, WebSocket with 1001.
    func beginShutdown() {
        switch mode {
        case .http:
            stopParsing = true
            if outstandingRequestCount == 0 {
                if output.isEmpty && input.isEmpty && parser.isIdle {
                    closeNow(reason: "server shutting down")
                } else {
                    closeAfterFlush = true
                }
            }
        case .webSocket:
            startClose(code: WebSocketCloseCode.goingAway, reason: "server shutting down")
        case .draining, .closed:
            break
        }
    }

    // MARK: Deadlines

    func computeDeadline() -> UInt64? {
        let configuration = configuration
        switch mode {
        case .http:
            if outstandingRequestCount > 0 { return nil }
            let headerTimeout = configuration.headerReadTimeout.nanoseconds
            if parser.isReadingBody { return lastReadAt.addingSaturated(headerTimeout) }
            if let started = requestStartedAt { return started.addingSaturated(headerTimeout) }
            if nextRequestSequence == 0 { return acceptedAt.addingSaturated(headerTimeout) }
            return lastActivityAt.addingSaturated(configuration.keepAliveIdleTimeout.nanoseconds)
        case .webSocket:
            if let sentAt = closeSentAt { return sentAt.addingSaturated(configuration.closeHandshakeTimeout.nanoseconds) }
            let idle = lastFrameAt.addingSaturated(configuration.webSocketIdleTimeout.nanoseconds)
            return min(idle, nextPingAt ?? idle)
        case .draining:
            return drainStartedAt.addingSaturated(configuration.closeHandshakeTimeout.nanoseconds)
        case .closed:
            return nil
        }
    }

    func handleDeadline() {
        let now = loop.now
        switch mode {
        case .http:
            let waitingForHead = requestStartedAt != nil || parser.isReadingBody || nextRequestSequence == 0
            closeNow(reason: waitingForHead ? "request read timed out" : "keep-alive idle timeout")
        case .webSocket:
            handleWebSocketDeadline(now: now)
        case .draining:
            closeNow(reason: closeReason ?? "close timed out")
        case .closed:
            break
        }
    }
}
